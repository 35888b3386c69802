import assert from 'node:assert/strict';
import {
  CUSTOMER_STATE_BYTES,
  DAY_MS,
  expectedPurchases,
  fitBgNbd,
  lgamma,
  logLikelihood,
  pAlive,
  parseEventRecord,
  predictOffline,
  PredictionEngine,
  DEFAULT_BGNBD,
  type FeatureEvent,
} from '../../src';

const T0 = Date.parse('2025-01-06T00:00:00Z');

/**
 * A small deterministic history: "loyal" customers visit every 2 days and buy every 6th visit;
 * "leaving" customers visit daily, then stop after a random day.
 */
function history(customers = 120, days = 150): FeatureEvent[] {
  const out: FeatureEvent[] = [];
  for (let c = 0; c < customers; c++) {
    const leaving = c % 3 === 0;
    const stop = leaving ? 20 + ((c * 37) % 100) : days;
    const every = leaving ? 1 : 2;
    for (let d = (c % 5) + 0; d < stop; d += every) {
      const at = T0 + d * DAY_MS + ((c * 7) % 24) * 3_600_000;
      out.push({ customerId: `c${c}`, type: 'page.viewed', at });
      if ((d / every) % 6 === 3)
        out.push({ customerId: `c${c}`, type: 'order.completed', at: at + 60_000, revenue: 40 });
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

describe('BG/NBD baseline', () => {
  it('has a correct ln Γ', () => {
    assert.ok(Math.abs(lgamma(5) - Math.log(24)) < 1e-10);
    assert.ok(Math.abs(lgamma(0.5) - Math.log(Math.sqrt(Math.PI))) < 1e-10);
  });

  it('rates a customer silent since the last purchase as less alive, and expects fewer purchases', () => {
    const p = DEFAULT_BGNBD;
    assert.ok(pAlive(p, { x: 4, tx: 30, T: 32 }) > pAlive(p, { x: 4, tx: 30, T: 120 }));
    assert.equal(pAlive(p, { x: 0, tx: 0, T: 50 }), 1);
    assert.ok(
      expectedPurchases(p, { x: 4, tx: 30, T: 32 }, 30) > expectedPurchases(p, { x: 4, tx: 30, T: 120 }, 30),
    );
  });

  it('fits parameters whose likelihood beats the starting point', () => {
    const points = Array.from({ length: 300 }, (_, i) => ({ x: i % 7, tx: (i % 7) * 9, T: 70 + (i % 11) }));
    const fitted = fitBgNbd(points);
    const ll = (p: typeof fitted) => points.reduce((s, d) => s + logLikelihood(p, d), 0);
    assert.ok(ll(fitted) > ll(DEFAULT_BGNBD));
  });
});

describe('prediction engine', function () {
  // Each case replays a simulated population; on a shared, busy core that can pass 10 s.
  this.timeout(30_000);

  it('learns from delayed labels and ranks leaving customers above loyal ones', () => {
    const engine = new PredictionEngine({ minExamples: 100 });
    for (const e of history()) engine.process(e);
    assert.ok(engine.churn.examples > 500, `${engine.churn.examples} churn examples`);
    const asOf = T0 + 150 * DAY_MS;
    // c3 (leaving) stopped on day 20 + 111 % 100 = 131; c1 is loyal.
    const leaving = engine.score('c3', asOf)!;
    const loyal = engine.score('c1', asOf)!;
    assert.ok(leaving.churn > loyal.churn, `${leaving.churn} vs ${loyal.churn}`);
    assert.ok(loyal.purchase > leaving.purchase);
    assert.equal(leaving.churnContributions.length, Object.keys(leaving.features).length);
  });

  it('gives the same scores and decisions on a replay, and after a checkpoint restore', () => {
    const events = history(60, 120);
    const run = () => {
      const e = new PredictionEngine({ minExamples: 50 });
      const fired = events.flatMap((x) => e.process(x));
      return { e, fired };
    };
    const a = run();
    const b = run();
    assert.deepEqual(b.fired, a.fired);
    const half = Math.floor(events.length / 2);
    const first = new PredictionEngine({ minExamples: 50 });
    for (const x of events.slice(0, half)) first.process(x);
    const restored = PredictionEngine.fromJSON(JSON.parse(JSON.stringify(first.toJSON())), {
      minExamples: 50,
    });
    for (const x of events.slice(half)) restored.process(x);
    const asOf = T0 + 120 * DAY_MS;
    assert.deepEqual(restored.score('c7', asOf), a.e.score('c7', asOf));
    assert.deepEqual(restored.report('churn'), a.e.report('churn'));
  });

  it('drops a customer gate state with its features when the byte bound evicts it', () => {
    const engine = new PredictionEngine({ minExamples: 1, maxStateBytes: CUSTOMER_STATE_BYTES * 10 });
    for (const e of history(60, 60)) engine.process(e);
    const checkpoint = engine.toJSON();
    assert.equal(engine.store.size, 10);
    assert.ok(engine.store.evicted >= 50);
    assert.ok(checkpoint.gates.length <= 10, `${checkpoint.gates.length} gate entries`);
  });

  it('reports AUC, Brier, calibration by decile and the baseline AUC on labels scored before learning', () => {
    const engine = new PredictionEngine({ minExamples: 100 });
    for (const e of history()) engine.process(e);
    const r = engine.report('churn');
    assert.equal(r.examples, engine.churn.examples);
    assert.equal(r.window, Math.min(5000, r.examples));
    assert.ok(r.auc > 0.8 && r.auc <= 1, `auc ${r.auc}`);
    assert.ok(r.baselineAuc > 0.5, `baseline ${r.baselineAuc}`);
    assert.equal(r.calibration.length, 10);
    assert.ok(r.brier > 0 && r.brier < 0.25 && r.ece >= 0);
    assert.match(engine.report('purchase').baseline, /BG\/NBD/);
  });

  it('emits churn.predicted for customers who go silent, on event time, with score, version and features', () => {
    // A strict gate, so that the precision below is the model's and not the default's trade-off.
    const engine = new PredictionEngine({
      minExamples: 100,
      churnGate: { enter: 0.6, exit: 0.4, cooldownMs: 14 * DAY_MS },
    });
    // While the history runs, only "leaving" customers (c0, c3, ...) ever stop.
    const churn = history()
      .flatMap((e) => engine.process(e))
      .filter((f) => f.type === 'churn.predicted');
    assert.ok(churn.length > 0);
    const f = churn[0];
    assert.equal(f.category, 'predicted');
    assert.equal(f.topFeatures.length, 3);
    assert.ok(f.score >= engine.options.churnGate.enter && f.modelVersion >= 1);
    const leaving = new Set(churn.map((x) => x.customerId).filter((id) => Number(id.slice(1)) % 3 === 0));
    const precision = churn.filter((x) => leaving.has(x.customerId)).length / churn.length;
    assert.ok(precision > 0.7, `precision ${precision}`);
    // Leaving customers who stopped late enough for the model to have learnt (≥ 1,000 labels).
    const late = Array.from({ length: 40 }, (_, k) => 3 * k).filter((c) => 20 + ((c * 37) % 100) >= 90);
    const caught = late.filter((c) => leaving.has(`c${c}`)).length;
    assert.ok(caught * 2 > late.length, `${caught} of ${late.length} leaving customers predicted`);
  });
});

describe('offline prediction', () => {
  it('parses NDJSON records and names the missing field', () => {
    assert.match(String(parseEventRecord({ type: 'x', occurredAt: '2025-01-01T00:00:00Z' })), /customerId/);
    assert.match(
      String(parseEventRecord({ customerId: 'a', type: 'x', occurredAt: 'yesterday' })),
      /occurredAt/,
    );
    const e = parseEventRecord({
      event: { customer_id: 'a', type: 'order.completed', occurred_at: 5, properties: { value: '12.5' } },
    });
    assert.deepEqual(e, {
      customerId: 'a',
      type: 'order.completed',
      at: 5,
      revenue: 12.5,
      category: undefined,
    });
  });

  it('scores every customer as of a time, with the models trained on the earlier history', () => {
    const r = predictOffline(history(), { asOf: T0 + 140 * DAY_MS, horizonDays: 30 });
    assert.equal(r.customers, 120);
    assert.equal(r.rows.length, 240);
    assert.ok(r.skipped > 0);
    assert.ok(r.examples.churn > 200 && r.rows.every((x) => !x.coldStart));
    assert.ok(r.rows.every((x) => x.score >= 0 && x.score <= 1));
  });
});

describe('PredictionEngine erasure', () => {
  it('forgets one customer (features, gates, pending examples) and keeps the others and the models', () => {
    const e = new PredictionEngine({ snapshotEveryDays: 7 });
    for (const ev of history(30, 60)) e.process(ev);
    const before = e.toJSON();
    assert.ok(before.customers.some((c) => c.id === 'c1'));
    const dropped = e.dropCustomer('c1');
    assert.equal(dropped.customers, 1);
    assert.equal(e.score('c1'), undefined);
    assert.ok(e.score('c2'), 'other customers keep their scores');
    const after = JSON.stringify(e.toJSON());
    assert.doesNotMatch(after, /"c1"/, 'the checkpoint holds nothing of the customer');
    assert.deepEqual(e.toJSON().models, before.models, 'the models keep what they learnt');
    assert.deepEqual(e.dropCustomer('c1'), { customers: 0, pending_examples: 0 }, 'idempotent');
  });
});
