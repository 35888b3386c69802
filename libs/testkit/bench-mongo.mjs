// Measures a MongoDB-wire server with the access pattern Kairos services use (documents keyed by
// customer id): bulk insert, findOne by _id, updateOne by _id with $set/$inc, and whether a
// conditional findOneAndUpdate is atomic under concurrent writers.
//   node libs/testkit/bench-mongo.mjs <mongodb-url> [docs=100000] [ops=2000] [--count]
import { performance } from 'node:perf_hooks';
import { MongoClient } from 'mongodb';

const [url, docsArg, opsArg, ...flags] = process.argv.slice(2);
if (!url) {
  console.error('usage: node libs/testkit/bench-mongo.mjs <mongodb-url> [docs] [ops] [--count]');
  process.exit(2);
}
const docs = Number(docsArg ?? 100_000);
const ops = Number(opsArg ?? 2000);

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const fmt = (ms) => ms.toFixed(2);
function summary(name, times) {
  const sorted = [...times].sort((a, b) => a - b);
  const total = times.reduce((a, b) => a + b, 0);
  console.log(
    `${name}: n=${times.length} p50=${fmt(pct(sorted, 50))}ms p99=${fmt(pct(sorted, 99))}ms ` +
      `max=${fmt(sorted[sorted.length - 1])}ms mean=${fmt(total / times.length)}ms`,
  );
}
const id = (i) => `cust-${String(i).padStart(7, '0')}`;
const randomId = () => id(Math.floor(Math.random() * docs));

const client = new MongoClient(url, { maxPoolSize: 8 });
await client.connect();
const db = client.db(`bench_${process.pid}`);
try {
  const profiles = db.collection('profiles');
  let t = performance.now();
  const batch = 1000;
  for (let start = 0; start < docs; start += batch) {
    const chunk = [];
    for (let i = start; i < Math.min(docs, start + batch); i++) {
      chunk.push({
        _id: id(i),
        tenant: 't1',
        attributes: { plan: i % 3 === 0 ? 'pro' : 'free', country: 'DE', score: i % 100 },
        counters: { orders: i % 7, events: 0 },
        version: 1,
        updatedAt: new Date(),
      });
    }
    await profiles.insertMany(chunk, { ordered: false });
  }
  const insertMs = performance.now() - t;
  console.log(
    `insert ${docs} docs (batches of ${batch}): ${fmt(insertMs)}ms (${Math.round(docs / (insertMs / 1000))} docs/s)`,
  );

  const reads = [];
  for (let i = 0; i < ops; i++) {
    t = performance.now();
    const doc = await profiles.findOne({ _id: randomId() });
    reads.push(performance.now() - t);
    if (!doc) throw new Error('findOne returned nothing');
  }
  summary('findOne({_id})', reads);

  const updates = [];
  for (let i = 0; i < ops; i++) {
    t = performance.now();
    const res = await profiles.updateOne(
      { _id: randomId() },
      {
        $set: { 'attributes.plan': 'pro', updatedAt: new Date() },
        $inc: { 'counters.events': 1, version: 1 },
      },
    );
    updates.push(performance.now() - t);
    if (res.matchedCount !== 1) throw new Error('updateOne matched nothing');
  }
  summary('updateOne({_id}, {$set,$inc})', updates);

  if (flags.includes('--count')) {
    t = performance.now();
    const n = await profiles.countDocuments({});
    console.log(`countDocuments({}) = ${n}: ${fmt(performance.now() - t)}ms`);
  }

  // Atomicity: 4 writers race to claim the same 200 documents; a claim must have exactly one winner.
  const claims = db.collection('claims');
  const claimDocs = 200;
  await claims.insertMany(Array.from({ length: claimDocs }, (_, i) => ({ _id: `c${i}`, claimed: false })));
  const writers = 4;
  const writerClients = await Promise.all(
    Array.from({ length: writers }, () => new MongoClient(url, { maxPoolSize: 2 }).connect()),
  );
  const wins = new Map();
  t = performance.now();
  await Promise.all(
    writerClients.map(async (c, w) => {
      const coll = c.db(db.databaseName).collection('claims');
      for (let i = 0; i < claimDocs; i++) {
        const res = await coll.findOneAndUpdate(
          { _id: `c${i}`, claimed: false },
          { $set: { claimed: `w${w}` } },
          { returnDocument: 'after' },
        );
        if (res) wins.set(`c${i}`, [...(wins.get(`c${i}`) ?? []), `w${w}`]);
      }
    }),
  );
  const claimMs = performance.now() - t;
  const doubles = [...wins.values()].filter((w) => w.length > 1).length;
  const unclaimed = claimDocs - wins.size;
  console.log(
    `findOneAndUpdate claim race (${writers} writers x ${claimDocs} docs): ${doubles} docs with >1 winner, ` +
      `${unclaimed} with none, ${fmt(claimMs)}ms`,
  );

  // Lost updates: the same writers $inc one counter concurrently; MongoDB ends at writers * incs.
  const incs = 100;
  await claims.insertOne({ _id: 'counter', n: 0 });
  await Promise.all(
    writerClients.map(async (c) => {
      const coll = c.db(db.databaseName).collection('claims');
      for (let i = 0; i < incs; i++) await coll.updateOne({ _id: 'counter' }, { $inc: { n: 1 } });
    }),
  );
  const counter = await claims.findOne({ _id: 'counter' });
  console.log(`concurrent $inc (${writers} writers x ${incs}): n=${counter?.n} (expected ${writers * incs})`);
  await Promise.all(writerClients.map((c) => c.close()));
} finally {
  await db.dropDatabase().catch(() => undefined);
  await client.close();
}
