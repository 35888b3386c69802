import { strict as assert } from 'node:assert';
import { MongoClient, MongoServerError } from 'mongodb';
import { useMongo } from '../../src';

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
});
