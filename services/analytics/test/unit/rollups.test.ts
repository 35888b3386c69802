import assert from 'node:assert/strict';
import { simulateEngagement } from '@kairos/loadgen';
import { AnalyticsState } from '../../src/domain/state';
import { normalizeQuery, type RawQuery } from '../../src/domain/query';
import * as scans from '../../src/domain/scans';
import { splitByDays } from '../../src/domain/rollups';
import { foldSimulated, simulatedWorkflows } from './simulated';

const DAY = 86_400_000;
const settings: scans.ReportSettings = {
  channelCosts: { email: 0.001, sms: 0.02, push: 0.0005 },
  infraCostPerDay: 3,
  campaignConversion: { event: 'order.completed', withinMs: 72 * 3_600_000 },
  confidence: 0.95,
};

/** A deterministic shuffle (a linear congruential generator), so outcomes arrive late and out of order. */
function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Equal, numbers within a relative 1e-9 (the rollups add and take out values in another order). */
function assertClose(actual: unknown, expected: unknown, path = 'report'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    const tolerance = 1e-9 * Math.max(1, Math.abs(expected));
    assert.ok(Math.abs(actual - expected) <= tolerance, `${path}: ${actual} ≠ ${expected}`);
    return;
  }
  if (expected && typeof expected === 'object') {
    assert.ok(actual && typeof actual === 'object', `${path}: not an object`);
    assert.deepEqual(Object.keys(actual as object).sort(), Object.keys(expected).sort(), `${path}: keys`);
    for (const [k, v] of Object.entries(expected))
      assertClose((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
    return;
  }
  assert.equal(actual, expected, path);
}

describe('rollups: reports from day cells equal the same reports computed from the rows', () => {
  const startMs = Date.UTC(2026, 0, 5);
  const sim = simulateEngagement({ seed: 5, startMs, days: 9, triggers: 4, firesPerTriggerPerDay: 120 });
  const state = new AnalyticsState();
  state.setWorkflows(simulatedWorkflows(sim));
  // Out of order: sends after their opens, conversions before the sends they are credited to.
  for (const m of shuffled(sim.messages, 17)) foldSimulated(state, sim, m);
  // Retention takes the first day and a half away (rows, runs, their contributions to the cells).
  state.dropBefore(startMs + 1.5 * DAY, startMs + 1.5 * DAY);
  const triggers = sim.workflows.map((w) => w.trigger);
  const workflows = sim.workflows.map((w) => w.name);

  const queries: Array<[string, RawQuery]> = [
    ['whole days', { fromMs: startMs, toMs: startMs + 10 * DAY }],
    [
      'partial first and last days',
      { fromMs: startMs + 2 * DAY + 3_723_000, toMs: startMs + 7 * DAY + 41_000_000 },
    ],
    ['within one day', { fromMs: startMs + 3 * DAY + 3_600_000, toMs: startMs + 3 * DAY + 20 * 3_600_000 }],
    [
      'a trigger and a channel',
      {
        fromMs: startMs,
        toMs: startMs + 9.5 * DAY,
        filters: { triggers: [triggers[1]!], channels: ['email'] },
      },
    ],
    [
      'two workflows',
      { fromMs: startMs + 0.3 * DAY, toMs: startMs + 8 * DAY, filters: { workflows: workflows.slice(0, 2) } },
    ],
  ];

  it('splits a range into whole UTC days and the partial days around them', () => {
    assert.deepEqual(splitByDays(startMs + 5, startMs + 2 * DAY + 7), {
      days: [startMs + DAY, startMs + 2 * DAY],
      edges: [
        [startMs + 5, startMs + DAY],
        [startMs + 2 * DAY, startMs + 2 * DAY + 7],
      ],
    });
    assert.deepEqual(splitByDays(startMs, startMs + DAY), { days: [startMs, startMs + DAY], edges: [] });
    assert.deepEqual(splitByDays(startMs + 5, startMs + 9), {
      days: null,
      edges: [[startMs + 5, startMs + 9]],
    });
  });

  for (const [name, raw] of queries) {
    it(`funnel, timing, ROI, reasons and lift: ${name}`, () => {
      let compared = 0;
      const check = (
        measure: 'funnel' | 'timing' | 'roi' | 'reasons' | 'lift',
        groupBy: string,
        model = 'last',
      ) => {
        const q = normalizeQuery(measure, { ...raw, groupBy, model }, startMs);
        const run = (viaCells: boolean) =>
          measure === 'funnel'
            ? scans.funnelReport(state, q, viaCells)
            : measure === 'timing'
              ? scans.timingReport(state, q, viaCells)
              : measure === 'roi'
                ? scans.roiReport(state, q, settings, viaCells)
                : measure === 'reasons'
                  ? scans.reasonsReport(state, q, viaCells)
                  : scans.liftReport(state, q, settings, viaCells);
        const fromRows = run(false);
        assertClose(run(true), fromRows, `${measure} by ${groupBy} (${model})`);
        compared += fromRows.rows.length;
      };
      for (const g of ['trigger', 'workflow', 'variant', 'channel']) check('funnel', g);
      for (const model of ['first', 'linear']) check('funnel', 'workflow', model);
      for (const g of ['timing_variant', 'send_hour', 'sto']) check('timing', g);
      for (const g of ['trigger', 'workflow']) check('roi', g);
      check('roi', 'workflow', 'linear');
      for (const g of ['category', 'reason']) check('reasons', g);
      for (const g of ['workflow', 'trigger', 'variant']) check('lift', g);
      assert.ok(compared > 20, `rows compared: ${compared}`);
    });
  }

  it('a late send moves its message to the day of the send, in the cells as in the rows', () => {
    const late = new AnalyticsState();
    const base = { runId: 'r1', workflow: 'w', trigger: 't', customerId: 'c', channel: 'email', reason: '' };
    const outcome = (status: 'delivered' | 'sent', at: number) => ({
      ...base,
      id: `${status}:a1`,
      actionId: 'a1',
      status,
      at,
      cost: 0,
      contentVariant: '',
      timingVariant: '',
      sto: false,
    });
    late.addOutcome(outcome('delivered', startMs + 2 * DAY + 60_000));
    late.addOutcome(outcome('sent', startMs + DAY + 60_000));
    const q = (fromMs: number) => normalizeQuery('funnel', { fromMs, toMs: fromMs + DAY }, startMs);
    assert.deepEqual(scans.funnelReport(late, q(startMs + 2 * DAY)).rows, []);
    assert.equal(scans.funnelReport(late, q(startMs + DAY)).rows[0]!.sent, 1);
    assert.deepEqual(
      scans.funnelReport(late, q(startMs + DAY)),
      scans.funnelReport(late, q(startMs + DAY), false),
    );
  });
});
