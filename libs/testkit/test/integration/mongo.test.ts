import { strict as assert } from 'node:assert';
import { MongoClient, MongoServerError, ObjectId } from 'mongodb';
import { explainIdLookup, useMongo } from '../../src';

describe('useMongo', () => {
  const mongo = useMongo({ ignoreEnv: true, dbPrefix: 'testkit' });

  it('provides a database where inserted documents can be found by a new client on the URL', async () => {
    await mongo.db.collection('things').insertMany([
      { _id: 'a' as never, n: 1 },
      { _id: 'b' as never, n: 2 },
    ]);
    const client = new MongoClient(mongo.url);
    try {
      await client.connect();
      const found = await client
        .db(mongo.dbName)
        .collection('things')
        .find({ n: { $gt: 1 } })
        .toArray();
      assert.deepEqual(found, [{ _id: 'b', n: 2 }]);
    } finally {
      await client.close();
    }
  });

  it('reports a unique index violation with error code 11000', async () => {
    const users = mongo.db.collection('users');
    await users.createIndex({ email: 1 }, { unique: true });
    await users.insertOne({ email: 'a@example.com' });
    await assert.rejects(users.insertOne({ email: 'a@example.com' }), (err: unknown) => {
      assert.ok(err instanceof MongoServerError, `expected MongoServerError, got ${String(err)}`);
      assert.equal(err.code, 11000);
      return true;
    });
  });

  it('gives each suite its own database name', () => {
    assert.match(mongo.dbName, /^testkit_\d+_[0-9a-f]{8}$/);
  });

  it('finds, updates and deletes documents by string, ObjectId and numeric _id', async () => {
    const things = mongo.db.collection<{ _id: string | number | ObjectId; n: number }>('ids');
    const ids: (string | number | ObjectId)[] = ['cust-1', new ObjectId(), 42];
    await things.insertMany(ids.map((_id, n) => ({ _id, n })));
    for (const [n, _id] of ids.entries()) {
      assert.deepEqual(await things.findOne({ _id }), { _id, n }, `findOne ${String(_id)}`);
      const updated = await things.updateOne({ _id }, { $inc: { n: 10 } });
      assert.equal(updated.modifiedCount, 1, `updateOne ${String(_id)}`);
      assert.equal((await things.findOne({ _id }))?.n, n + 10);
    }
    assert.equal((await things.deleteOne({ _id: ids[1] })).deletedCount, 1);
    assert.deepEqual((await things.find({}).toArray()).map((d) => d._id).sort(), [42, 'cust-1'].sort());
  });

  it('looks up _id through the _id index instead of scanning when the server is FerretDB', async () => {
    // The plan text checked here is FerretDB's SQLite backend's; mongod always uses the _id index.
    if (mongo.server.engine !== 'ferretdb') return;
    const plan = await explainIdLookup(mongo.url);
    assert.match(plan, /USING INDEX/, `plan: ${plan}`);
    // `_id` equality next to other conditions (optimistic concurrency: {_id, version}) uses it too.
    const compound = await explainIdLookup(mongo.url, { version: 3 });
    assert.match(compound, /USING INDEX/, `plan: ${compound}`);
  });
});
