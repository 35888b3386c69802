import assert from 'node:assert/strict';
import { OUTCOME_TOKEN } from '@kairos/contracts';
import { simulateEngagement } from '@kairos/loadgen';
import { AnalyticsState } from '../../src/domain/state';
import { normalizeQuery, QueryError, type Measure } from '../../src/domain/query';
import {
  funnelReport,
  liftReport,
  reasonsReport,
  roiReport,
  volumeReport,
  type ReportSettings,
} from '../../src/domain/reports';
import { compareProportions } from '../../src/domain/stats';
import { foldSimulated, simulatedWorkflows } from './simulated';

const settings: ReportSettings = {
  channelCosts: {},
  infraCostPerDay: 0,
  campaignConversion: { event: 'order.completed', withinMs: 72 * 3_600_000 },
  confidence: 0.95,
};

/** A state fed with a simulated week of 3 triggers (every message folded in once, or `times` times). */
function fed(times = 1) {
  const sim = simulateEngagement({ seed: 3, days: 7, triggers: 3, firesPerTriggerPerDay: 400, uplift: 0.05 });
  const state = new AnalyticsState();
  state.setWorkflows(simulatedWorkflows(sim));
  for (let r = 0; r < times; r++) {
    for (const m of sim.messages) foldSimulated(state, sim, m);
  }
  const from = Date.UTC(2026, 0, 5);
  const q = (measure: Measure, groupBy?: string) =>
    normalizeQuery(measure, { fromMs: from, toMs: from + 10 * 86_400_000, groupBy }, from);
  return { sim, state, q };
}

describe('reports over a simulated week', () => {
  it('counts the funnel from the outcomes, and a replay changes nothing', () => {
    const once = fed(1);
    const twice = fed(2);
    const funnel = funnelReport(once.state, once.q('funnel', 'workflow'));
    assert.deepEqual(funnelReport(twice.state, twice.q('funnel', 'workflow')), funnel);
    const sent = funnel.rows.reduce((a, r) => a + r.sent, 0);
    assert.equal(sent, once.sim.truth.sent);
    const delivered = once.sim.messages.filter(
      (m) => m.kind === 'outcome' && OUTCOME_TOKEN[m.message.status] === 'delivered',
    ).length;
    assert.equal(
      funnel.rows.reduce((a, r) => a + r.delivered, 0),
      delivered,
    );
  });

  it('credits exactly the simulated value of conversions that followed a message (last touch)', () => {
    const { state, q, sim } = fed();
    const roi = roiReport(state, q('roi', 'workflow'), settings);
    const value = roi.rows.reduce((a, r) => a + r.attributedValue, 0);
    assert.ok(Math.abs(value - sim.truth.attributedValue) < 1e-6, `${value} vs ${sim.truth.attributedValue}`);
  });

  it('measures the lift against the holdout with an interval that contains the true lift', () => {
    const { state, q, sim } = fed();
    const lift = liftReport(state, q('lift', 'trigger'), settings);
    assert.equal(lift.rows.length, 3);
    const t = lift.rows.reduce((a, r) => ({ n: a.n + r.treated!.n, x: a.x + r.treated!.conversions }), {
      n: 0,
      x: 0,
    });
    assert.equal(t.n, sim.truth.runs.treated);
    const c = lift.rows.reduce((a, r) => ({ n: a.n + r.control!.n, x: a.x + r.control!.conversions }), {
      n: 0,
      x: 0,
    });
    assert.equal(c.n, sim.truth.runs.control);
    // Pooled over the three triggers, the Newcombe interval covers the simulated lift.
    const pooled = compareProportions(t.x, t.n, c.x, c.n);
    assert.ok(
      pooled.absoluteCi.low <= sim.truth.trueLift && sim.truth.trueLift <= pooled.absoluteCi.high,
      `${JSON.stringify(pooled.absoluteCi)} misses ${sim.truth.trueLift}`,
    );
    for (const r of lift.rows) assert.equal(r.baseline, 'holdout');
  });

  it('compares each workflow with batch campaign sends (campaign.sent), converted within the campaign window', () => {
    const { state, q } = fed();
    const day = Date.UTC(2026, 0, 6);
    // Four campaign sends; customers k1 and k2 buy within 72 hours, k3 after it, k4 never.
    for (const [i, customerId] of ['k1', 'k2', 'k3', 'k4'].entries()) {
      state.addCampaignSend({ id: `camp-${i}`, customerId, campaign: 'spring', at: day });
    }
    const order = (id: string, customerId: string, at: number) =>
      state.addConversion({ id, customerId, type: 'order.completed', at, values: {} });
    order('k1-order', 'k1', day + 3_600_000);
    order('k2-order', 'k2', day + 71 * 3_600_000);
    order('k3-order', 'k3', day + 73 * 3_600_000);
    const rows = liftReport(state, q('lift'), settings).rows.filter((r) => r.baseline === 'campaign');
    assert.equal(rows.length, 3);
    for (const r of rows) assert.deepEqual([r.control!.n, r.control!.conversions], [4, 2]);
  });

  it('groups suppressions and failures by reason category', () => {
    const { state, q } = fed();
    const keys = reasonsReport(state, q('reasons')).rows.map((r) => `${r.status}/${r.key}`);
    assert.deepEqual(new Set(keys), new Set(['held_out/holdout', 'suppressed/caps', 'failed/channel_error']));
  });

  it('puts each fire in the hour of its own time, whatever order they arrive in', () => {
    const { state, q, sim } = fed();
    const v = volumeReport(state, q('volume'));
    assert.equal(v.series.length, 3);
    const total = v.series.reduce((a, s) => a + s.total, 0);
    assert.equal(total, sim.messages.filter((m) => m.kind === 'fire').length);
  });

  it('names the field of a bad query', () => {
    assert.throws(
      () => normalizeQuery('volume', { groupBy: 'colour' }, 0),
      (e: QueryError) => e.field === 'query.group_by',
    );
    assert.throws(
      () => normalizeQuery('funnel', { fromMs: 5, toMs: 1 }, 0),
      (e: QueryError) => e.field === 'query.from',
    );
    assert.throws(
      () => normalizeQuery('funnel', { model: 'middle' }, 0),
      (e: QueryError) => e.field === 'query.attribution_model',
    );
  });
});

describe('AnalyticsState erasure', () => {
  it("drops one customer's messages, runs, conversions and campaign sends; series counts stay", () => {
    const state = new AnalyticsState();
    const ref = (customerId: string, n: number) => ({
      actionId: `a-${customerId}-${n}`,
      runId: `r-${customerId}-${n}`,
      workflow: 'w',
      trigger: 't',
      customerId,
    });
    for (const c of ['gone', 'kept']) {
      state.addFire({
        id: `f-${c}`,
        trigger: 't',
        customerId: c,
        category: 'customer_action',
        eventType: 'x',
        at: 1_000,
      });
      state.addRequest({
        ...ref(c, 1),
        triggerId: `f-${c}`,
        step: 's',
        requestedAt: 2_000,
        escalation: false,
      });
      state.addOutcome({
        ...ref(c, 1),
        id: `sent:a-${c}-1:email`,
        channel: 'email',
        status: 'sent',
        reason: '',
        at: 3_000,
        cost: 0,
        contentVariant: '',
        timingVariant: '',
        sto: false,
      });
      state.addConversion({ id: `conv-${c}`, customerId: c, type: 'order.completed', at: 4_000, values: {} });
      state.addCampaignSend({ id: `camp-${c}`, customerId: c, campaign: 'spring', at: 500 });
    }
    assert.deepEqual(state.dropCustomer('gone'), { messages: 1, runs: 1, conversions: 1, campaign_sends: 1 });
    const mentions = (c: string) =>
      [
        ...state.messages.values(),
        ...state.runs.values(),
        ...state.conversions.values(),
        ...state.campaignSends,
      ].filter((r) => r.customerId === c).length;
    assert.equal(mentions('gone'), 0);
    assert.equal(mentions('kept'), 4);
    assert.equal(state.touches.has('gone'), false);
    assert.equal(state.fireTimes.size, 2, 'fire counts hold no customer and stay');
    assert.deepEqual(state.dropCustomer('gone'), { messages: 0, runs: 0, conversions: 0, campaign_sends: 0 });
  });
});
