import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { actions, events, partitionOf, SCHEMAS, subjects, triggers } from '@kairos/contracts';
import { connectPublisher } from '@kairos/messaging';
import { engagementWorkflowsYaml, simulateEngagement, type EngagementMessage } from '@kairos/loadgen';
import { useServers } from '@kairos/testkit';
import {
  AnalyticsState,
  factOfBytes,
  FactStore,
  ReportService,
  unframe,
  type AnalyticsApp,
  type BytesKind,
} from '../../src';
import { caughtUp, definitionsDir, PARTITIONS, publishAll, start } from './harness';

const H = 3_600_000;

describe('analytics service (real NATS and database)', function () {
  this.timeout(90_000);
  const { mongo, bus } = useServers({ dbPrefix: 'analytics', connect: connectPublisher });
  let app: AnalyticsApp | undefined;
  // A recent simulated day, so the default report range (the last 7 days) covers it.
  const startMs = Math.floor((Date.now() - 3 * 86_400_000) / H) * H;
  const sim = simulateEngagement({ seed: 11, startMs, days: 1, triggers: 2, firesPerTriggerPerDay: 150 });
  /** A workflow that converts on subscription.started within `within`, valued by `value`. */
  const conversionWorkflow = (name: string, trigger: string, within: string, value: string) => `---
apiVersion: kairos/v1
kind: Workflow
metadata: { name: ${name} }
spec:
  trigger: ${trigger}
  conversion: { event: subscription.started, within: ${within}, value: '${value}' }
  steps: [ { send: { channel: email, template: t } } ]
`;
  // Two workflows whose conversion windows overlap: one subscription converts for both.
  const overlap =
    conversionWorkflow('long-window', 'overlap-a', '72h', 'event.properties.amount') +
    conversionWorkflow('short-window', 'overlap-b', '24h', 'event.properties.amount * 2.0');
  let dir: string;

  before(async () => {
    dir = definitionsDir(engagementWorkflowsYaml(sim) + overlap);
    app = await start(bus.nc, mongo.db, dir);
  });
  after(async () => {
    await app?.stop();
  });

  const outcomes = sim.messages.filter((m) => m.kind === 'outcome');
  /** Outcome facts in the stored segments. */
  const storedOutcomes = async () =>
    (await mongo.db.collection('fact_segments').find({ kind: 'outcome' }).toArray()).reduce(
      (a, s) =>
        a + (s.messages ? unframe(s.messages.buffer).length : (JSON.parse(s.facts) as unknown[]).length),
      0,
    );

  it('counts every simulated outcome once, and a replay (new message ids) adds nothing', async () => {
    await publishAll(bus.publisher, sim.messages);
    await caughtUp(bus.nc);
    const before = app!.reports.run('funnel', { groupBy: 'workflow' });
    assert.equal(
      before.rows.reduce((a, r) => a + r.sent, 0),
      sim.truth.sent,
    );
    assert.equal(await storedOutcomes(), outcomes.length);
    // The same outcomes again, past JetStream's duplicate window (other ids): the store's keys hold.
    await publishAll(bus.publisher, outcomes, ':replayed');
    await caughtUp(bus.nc);
    assert.deepEqual(app!.reports.run('funnel', { groupBy: 'workflow' }), before);
    assert.equal(await storedOutcomes(), outcomes.length);
    assert.equal(app!.state.outcomeCount.value, outcomes.length);
  });

  it('puts a late fire and a late outcome in the buckets of their own time', async () => {
    const hourAgo5 = Math.floor((Date.now() - 5 * H) / H) * H + 60_000;
    const late: EngagementMessage[] = [
      {
        kind: 'fire',
        at: hourAgo5,
        message: triggers.TriggerFired.fromPartial({
          id: 'late-fire-1',
          trigger: 'late-trigger',
          customerId: 'late-c',
          firedAt: new Date(hourAgo5),
          category: 'system',
        }),
      },
      {
        kind: 'outcome',
        at: hourAgo5,
        message: actions.ActionOutcome.fromPartial({
          actionId: 'late-act',
          runId: 'late-run',
          workflow: 'late-wf',
          trigger: 'late-trigger',
          customerId: 'late-c',
          status: actions.OutcomeStatus.OUTCOME_STATUS_SUPPRESSED,
          reason: 'quiet_hours',
          at: new Date(hourAgo5),
        }),
      },
    ];
    await publishAll(bus.publisher, late);
    await caughtUp(bus.nc);
    const hour = Math.floor(hourAgo5 / H) * H;
    const volume = app!.reports.run('volume', {
      fromMs: hour - 2 * H,
      toMs: hour + 3 * H,
      filters: { triggers: ['late-trigger'] },
    });
    assert.deepEqual(
      volume.series.map((s) => [s.key, s.values]),
      [['late-trigger', [0, 0, 1, 0, 0]]],
    );
    const inHour = app!.reports.run('reasons', {
      fromMs: hour,
      toMs: hour + H,
      filters: { workflows: ['late-wf'] },
    });
    assert.deepEqual(
      inHour.rows.map((r) => [r.key, r.count]),
      [['quiet_hours', 1]],
    );
    const after = app!.reports.run('reasons', {
      fromMs: hour + H,
      toMs: Date.now() + H,
      filters: { workflows: ['late-wf'] },
    });
    assert.deepEqual(after.rows, []);
  });

  it('attributes a conversion to the right message when windows overlap', async () => {
    const t0 = Date.now() - 40 * H;
    const sent = (id: string, workflow: string, trigger: string, at: number): EngagementMessage[] => [
      {
        kind: 'request',
        at,
        message: actions.ActionRequested.fromPartial({
          actionId: id,
          runId: `run-${id}`,
          triggerId: `fire-${id}`,
          workflow,
          trigger,
          customerId: 'overlap-c',
          channels: ['email'],
          requestedAt: new Date(at),
        }),
      },
      {
        kind: 'outcome',
        at,
        message: actions.ActionOutcome.fromPartial({
          actionId: id,
          runId: `run-${id}`,
          workflow,
          trigger,
          customerId: 'overlap-c',
          channel: 'email',
          status: actions.OutcomeStatus.OUTCOME_STATUS_SENT,
          at: new Date(at),
          cost: 0.001,
        }),
      },
    ];
    const conversion = (id: string, at: number): EngagementMessage => ({
      kind: 'event',
      at,
      message: events.EnrichedEvent.fromPartial({
        event: {
          id,
          type: 'subscription.started',
          category: events.EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
          customerId: 'overlap-c',
          occurredAt: new Date(at),
          properties: { amount: 10 },
        },
      }),
    });
    await publishAll(bus.publisher, [
      ...sent('act-long', 'long-window', 'overlap-a', t0),
      ...sent('act-short', 'short-window', 'overlap-b', t0 + H),
      conversion('sub-1', t0 + 2 * H), // both windows open: last touch is the short-window message
      conversion('sub-2', t0 + 30 * H), // the 24h window closed at t0 + 25h: the long-window message
    ]);
    await caughtUp(bus.nc);
    const first = app!.reports.trace('sub-1', 'last');
    assert.deepEqual(
      first.credits.map((c) => [c.actionId, c.runId, c.triggerId, c.trigger, c.value]),
      [['act-short', 'run-act-short', 'fire-act-short', 'overlap-b', 20]],
    );
    const second = app!.reports.trace('sub-2', 'last');
    assert.deepEqual(
      second.credits.map((c) => [c.actionId, c.value]),
      [['act-long', 10]],
    );
    const linear = app!.reports.trace('sub-1', 'linear');
    assert.deepEqual(
      linear.credits.map((c) => [c.actionId, c.weight, c.value]),
      [
        ['act-long', 0.5, 5],
        ['act-short', 0.5, 10],
      ],
    );
    // From the message's side: what act-long earned.
    assert.deepEqual(
      app!.reports.trace('act-long', 'last').credits.map((c) => c.conversionId),
      ['sub-2'],
    );
  });

  it('loses nothing across a restart, including what arrived while it was down', async () => {
    const funnel = app!.reports.run('funnel', { groupBy: 'workflow' });
    const lift = app!.reports.run('lift', {});
    await app!.stop();
    app = undefined;
    const more = simulateEngagement({ seed: 12, startMs, days: 1, triggers: 2, firesPerTriggerPerDay: 20 });
    // Distinct ids from the first simulation's: another run's actions.
    const renamed = more.messages.map((m) =>
      JSON.parse(JSON.stringify(m), (k, v) =>
        typeof v === 'string' && /^(act_|run_|order-|trigger-\d+@)/.test(v) ? `b-${v}` : v,
      ),
    );
    await publishAll(bus.publisher, restore(renamed));
    app = await start(bus.nc, mongo.db, dir);
    await caughtUp(bus.nc);
    const after = app.reports.run('funnel', { groupBy: 'workflow' });
    const sent = (f: typeof funnel) => f.rows.reduce((a, r) => a + r.sent, 0);
    assert.equal(sent(after), sent(funnel) + more.truth.sent);
    const treated = (l: typeof lift) => l.rows.reduce((a, r) => a + r.treated!.n, 0);
    assert.equal(treated(app.reports.run('lift', {})), treated(lift) + more.truth.runs.treated);
  });

  it('reads back segments written as JSON facts (before the messages were kept as bytes) to the same figures', async () => {
    const segments = await mongo.db.collection('fact_segments').find().sort({ _id: 1 }).toArray();
    assert.ok(
      segments.some((s) => s.kind === 'outcome' && s.messages),
      'outcomes are kept as their messages',
    );
    const legacy = mongo.client.db(`${mongo.db.databaseName}_json`);
    try {
      await legacy.collection('fact_segments').insertMany(
        segments.map(({ _id, messages, ...s }) => ({
          ...s,
          facts: messages
            ? JSON.stringify(unframe(messages.buffer).map((b) => factOfBytes(s.kind as BytesKind, b)))
            : s.facts,
        })),
      );
      const reread = (db: typeof legacy) => async () => {
        const state = new AnalyticsState();
        state.setWorkflows(app!.catalog.infos());
        await new FactStore(db).loadInto(state);
        const reports = new ReportService(state, settings, { now: () => Date.now() });
        return [
          reports.run('funnel', { groupBy: 'workflow' }),
          reports.run('lift', { groupBy: 'workflow' }),
          reports.run('roi', { groupBy: 'workflow' }),
          reports.run('reasons', {}),
          reports.run('volume', {}),
        ];
      };
      const settings = {
        channelCosts: {},
        infraCostPerDay: 0,
        campaignConversion: { event: 'order.completed', withinMs: 3 * 86_400_000 },
        confidence: 0.95,
      };
      const fromBytes = await reread(mongo.db)();
      assert.ok((fromBytes[0] as { rows: unknown[] }).rows.length > 0);
      assert.deepEqual(await reread(legacy)(), fromBytes);
    } finally {
      await legacy.dropDatabase();
    }
  });

  it('publishes a spike in the last complete hour once, as an analytics.anomaly system event', async () => {
    const hour = Math.floor(Date.now() / H) * H; // the current hour: the check judges the one before it
    const clock = { now: () => hour + 5 * 60_000 };
    const alerting = await start(bus.nc, mongo.db, dir, { clock });
    try {
      // Four weeks of a steady trigger (10 an hour), then 80 in the last complete hour.
      for (let h = 4 * 168; h >= 1; h--) {
        const n = h === 1 ? 80 : 10;
        for (let k = 0; k < n; k++) {
          alerting.state.addFire({
            id: `spike-${h}-${k}`,
            trigger: 'spiky',
            customerId: `s${k}`,
            category: 'customer_action',
            eventType: 'page.viewed',
            at: hour - h * H + k * 1_000,
          });
        }
      }
      const published = await alerting.alerts.check();
      assert.deepEqual(
        published.map((e) => [
          e.type,
          e.customerId,
          (e.properties as { trigger: string; kind: string }).trigger,
          (e.properties as { kind: string }).kind,
        ]),
        [['analytics.anomaly', 'kairos-analytics', 'spiky', 'spike']],
      );
      const jsm = await jetstreamManager(bus.nc);
      const subject = subjects.rawEvent(
        partitionOf('kairos-analytics', PARTITIONS),
        events.EventCategory.EVENT_CATEGORY_SYSTEM,
        'analytics.anomaly',
      );
      const stored = await jsm.streams.getMessage('EVENTS', { last_by_subj: subject });
      assert.equal(SCHEMAS.Event.type.decode(stored!.data).id, published[0].id);
      assert.deepEqual(await alerting.alerts.check(), [], 'the same hour is not alerted twice');
    } finally {
      await alerting.stop();
    }
  });

  it('past the retention, removes message-level facts and keeps the daily trigger volumes', async () => {
    await app!.stop();
    const later = { now: () => Date.now() + 100 * 86_400_000 }; // everything is older than 90 days
    app = await start(bus.nc, mongo.db, dir, { clock: later });
    const range = { fromMs: startMs - 86_400_000, toMs: Date.now() + H, granularity: 'day' };
    const daily = app.reports.run('volume', range);
    assert.ok(daily.series.length > 0);
    await app.retain();
    assert.equal(await mongo.db.collection('fact_segments').countDocuments(), 0);
    assert.deepEqual(app.reports.run('funnel', range).rows, []);
    await app.stop();
    app = await start(bus.nc, mongo.db, dir, { clock: later });
    assert.deepEqual(app.reports.run('volume', range), daily);
    assert.deepEqual(app.reports.run('funnel', range).rows, []);
  });
});

/** Messages parsed back from JSON: their dates become Date objects again (fromPartial expects them). */
function restore(list: EngagementMessage[]): EngagementMessage[] {
  return list.map((m) => {
    const revive = (o: Record<string, unknown>) => {
      for (const [k, v] of Object.entries(o)) {
        if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) o[k] = new Date(v);
        else if (v && typeof v === 'object' && !Array.isArray(v)) revive(v as Record<string, unknown>);
        else if (Array.isArray(v))
          for (const x of v) if (x && typeof x === 'object') revive(x as Record<string, unknown>);
      }
    };
    revive(m.message as unknown as Record<string, unknown>);
    return m;
  });
}
