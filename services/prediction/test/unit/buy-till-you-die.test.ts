import assert from 'node:assert/strict';
import {
  CDNOW_CALIBRATION_END,
  checkPurchaseLog,
  DAY_MS,
  expectedPurchases,
  fitBgNbd,
  fitParetoNbd,
  loadCdnowSample,
  paretoExpectedPurchases,
  paretoPAlive,
  paretoTotalLogLikelihood,
  purchaseRecords,
  purchaseSummaries,
  type ParetoNbdParams,
} from '../../src';

/** Fader & Hardie's Pareto/NBD estimates for the CDNOW sample, 39-week calibration, in weeks. */
const PUBLISHED: ParetoNbdParams = { r: 0.5534, alpha: 10.5802, s: 0.6061, beta: 11.6562 };

/** The CDNOW sample's calibration summaries in weeks, as the literature states them. */
function cdnowWeeks() {
  const events = loadCdnowSample().map((p) => ({
    customerId: p.customerId,
    type: 'order.completed',
    at: p.at,
  }));
  return [...purchaseSummaries(events, CDNOW_CALIBRATION_END).values()].map((d) => ({
    x: d.x,
    tx: d.tx / 7,
    T: d.T / 7,
  }));
}

describe('Pareto/NBD', function () {
  this.timeout(30_000);

  it('recovers the published maximum-likelihood estimates on the CDNOW sample', () => {
    const data = cdnowWeeks();
    assert.equal(data.length, 2357);
    const fit = fitParetoNbd(data);
    assert.ok(Math.abs(fit.r - PUBLISHED.r) < 0.02, `r ${fit.r}`);
    assert.ok(Math.abs(fit.alpha - PUBLISHED.alpha) / PUBLISHED.alpha < 0.05, `alpha ${fit.alpha}`);
    assert.ok(Math.abs(fit.s - PUBLISHED.s) < 0.05, `s ${fit.s}`);
    assert.ok(Math.abs(fit.beta - PUBLISHED.beta) / PUBLISHED.beta < 0.1, `beta ${fit.beta}`);
    // The fit is a maximum: at least as likely as the published point on these summaries.
    assert.ok(paretoTotalLogLikelihood(fit, data) >= paretoTotalLogLikelihood(PUBLISHED, data) - 1e-6);
    // Published log-likelihood −9595.0 on their summaries; ours differ by the day rounding only.
    assert.ok(Math.abs(paretoTotalLogLikelihood(fit, data) + 9595) < 15);
  });

  it('gives P(alive) 1 to a customer seen buying at T and less the longer it has been silent', () => {
    assert.equal(paretoPAlive(PUBLISHED, { x: 3, tx: 20, T: 20 }), 1);
    const recent = paretoPAlive(PUBLISHED, { x: 3, tx: 35, T: 39 });
    const silent = paretoPAlive(PUBLISHED, { x: 3, tx: 5, T: 39 });
    assert.ok(recent > 0.9 && silent < 0.5 && silent > 0, `${recent} ${silent}`);
    // A frequent buyer who stops is more surely gone than a rare one silent as long.
    assert.ok(paretoPAlive(PUBLISHED, { x: 10, tx: 5, T: 39 }) < silent);
  });

  it('expects the unconditional purchases of a new customer for x = 0, T = 0', () => {
    const { r, alpha, s, beta } = PUBLISHED;
    const t = 39;
    const closed = ((r * beta) / (alpha * (s - 1))) * (1 - Math.pow(beta / (beta + t), s - 1));
    const e = paretoExpectedPurchases(PUBLISHED, { x: 0, tx: 0, T: 0 }, t);
    assert.ok(Math.abs(e - closed) < 1e-9, `${e} vs ${closed}`);
    // At s = 1 the closed form's limit: (r/α)·β·ln((β + t)/β).
    const one = { ...PUBLISHED, s: 1 };
    const limit = (r / alpha) * beta * Math.log((beta + t) / beta);
    assert.ok(Math.abs(paretoExpectedPurchases(one, { x: 0, tx: 0, T: 0 }, t) - limit) < 1e-9);
  });

  it('predicts the CDNOW holdout purchases in aggregate (39 weeks)', () => {
    const fit = fitParetoNbd(cdnowWeeks());
    const events = loadCdnowSample();
    const calib = purchaseSummaries(
      events.map((p) => ({ customerId: p.customerId, type: 'order.completed', at: p.at })),
      CDNOW_CALIBRATION_END,
    );
    let expected = 0;
    for (const d of calib.values())
      expected += paretoExpectedPurchases(fit, { x: d.x, tx: d.tx / 7, T: d.T / 7 }, 39);
    const actual = events.filter(
      (p) => p.at > CDNOW_CALIBRATION_END && p.at <= CDNOW_CALIBRATION_END + 273 * DAY_MS,
    ).length;
    // 1,647 expected against 1,882 purchase days: Pareto/NBD under-forecasts this sample's second
    // half by about 12%, as the literature's tracking plots show for week 78. A wrong likelihood or
    // expectation would be off by far more.
    assert.ok(Math.abs(expected - actual) / actual < 0.15, `expected ${expected}, actual ${actual}`);
  });
});

describe('BG/NBD', function () {
  this.timeout(30_000);

  it('recovers the published estimates on the CDNOW sample, a < 1 included', () => {
    // Fader, Hardie & Lee (2005): r 0.243, α 4.414, a 0.793, b 2.426.
    const fit = fitBgNbd(cdnowWeeks());
    assert.ok(Math.abs(fit.r - 0.243) < 0.01, `r ${fit.r}`);
    assert.ok(Math.abs(fit.alpha - 4.414) < 0.15, `alpha ${fit.alpha}`);
    assert.ok(Math.abs(fit.a - 0.793) < 0.03, `a ${fit.a}`);
    assert.ok(Math.abs(fit.b - 2.426) < 0.1, `b ${fit.b}`);
  });

  it("gives the paper's conditional expectation for its example customer", () => {
    // x 2, t_x 30.43, T 38.86 weeks: 1.226 purchases expected in the next 39 weeks.
    const e = expectedPurchases(
      { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 },
      { x: 2, tx: 30.43, T: 38.86 },
      39,
    );
    assert.ok(Math.abs(e - 1.226) < 0.001, `${e}`);
  });
});

describe('the purchase-log check (the kairosctl predict --events path)', function () {
  this.timeout(120_000);

  it('ranks a real log’s next purchases beside BG/NBD and Pareto/NBD', () => {
    // The first 600 CDNOW customers keep the test short; the bench runs the whole sample.
    const keep = new Set(Array.from({ length: 600 }, (_, i) => `cdnow-${i + 1}`));
    const log = loadCdnowSample().filter((p) => keep.has(p.customerId));
    const r = checkPurchaseLog(purchaseRecords(log), { asOf: CDNOW_CALIBRATION_END, horizonDays: 91 });
    assert.equal(r.customers, 600);
    assert.ok(!r.coldStart && r.trainingLabels > 1_000, `${r.trainingLabels} labels`);
    for (const [name, v] of Object.entries({
      model: r.purchaseAuc,
      bgnbd: r.bgnbdAuc,
      pareto: r.paretoNbdAuc,
    }))
      assert.ok(v > 0.7, `${name} AUC ${v}`);
    // The model starts from BG/NBD and must not rank worse than it.
    assert.ok(r.purchaseAuc >= r.bgnbdAuc - 0.005, `model ${r.purchaseAuc} vs BG/NBD ${r.bgnbdAuc}`);
  });

  it('scores with BG/NBD while the model has no labels yet (a horizon as long as the history)', () => {
    const keep = new Set(Array.from({ length: 300 }, (_, i) => `cdnow-${i + 1}`));
    const log = loadCdnowSample().filter((p) => keep.has(p.customerId));
    const r = checkPurchaseLog(purchaseRecords(log), { asOf: CDNOW_CALIBRATION_END, horizonDays: 273 });
    assert.ok(r.coldStart);
    assert.equal(r.purchaseAuc, r.bgnbdAuc);
  });
});
