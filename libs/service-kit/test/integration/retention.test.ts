import { strict as assert } from 'node:assert';
import { useMongo } from '@kairos/testkit';
import { sweepExpired } from '../../src/retention';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T00:00:00Z');

describe('retention sweep', () => {
  const mongo = useMongo({ dbPrefix: 'retention' });

  it('deletes the documents older than the retention, keeps newer ones and those the filter spares', async () => {
    const col = mongo.db.collection<{ _id: string; at: Date; state: string }>('things');
    await col.insertMany([
      { _id: 'old-done', at: new Date(NOW - 40 * DAY), state: 'done' },
      { _id: 'old-open', at: new Date(NOW - 40 * DAY), state: 'open' },
      { _id: 'new-done', at: new Date(NOW - 10 * DAY), state: 'done' },
    ]);
    const rules = [{ collection: 'things', field: 'at', maxAgeMs: 30 * DAY, filter: { state: 'done' } }];
    assert.deepEqual(await sweepExpired(mongo.db, rules, NOW), { things: 1 });
    assert.deepEqual(
      (await col.find().sort({ _id: 1 }).toArray()).map((d) => d._id),
      ['new-done', 'old-open'],
    );
    assert.deepEqual(await sweepExpired(mongo.db, rules, NOW), {}, 'a second sweep finds nothing');
  });

  it('keeps everything when the retention is 0', async () => {
    const col = mongo.db.collection<{ _id: string; at: Date }>('kept');
    await col.insertOne({ _id: 'ancient', at: new Date(0) });
    assert.deepEqual(
      await sweepExpired(mongo.db, [{ collection: 'kept', field: 'at', maxAgeMs: 0 }], NOW),
      {},
    );
    assert.equal(await col.countDocuments(), 1);
  });

  it('removes at most maxBatches batches per sweep; the next sweep goes on', async () => {
    const bounds = { batch: 5, maxBatches: 3 };
    const bound = bounds.batch * bounds.maxBatches;
    const col = mongo.db.collection<{ _id: number; at: Date }>('many');
    const docs = Array.from({ length: bound + 7 }, (_, i) => ({ _id: i, at: new Date(NOW - 2 * DAY) }));
    await col.insertMany(docs);
    const rules = [{ collection: 'many', field: 'at', maxAgeMs: DAY }];
    assert.deepEqual(await sweepExpired(mongo.db, rules, NOW, bounds), { many: bound });
    assert.deepEqual(await sweepExpired(mongo.db, rules, NOW, bounds), { many: 7 });
    assert.equal(await col.countDocuments(), 0);
  });
});
