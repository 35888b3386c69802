// `pnpm bench analytics`: a simulated month of triggered engagement (tools/loadgen's engagement
// history: 50 triggers, a known true uplift and known conversion values) flows through the analytics
// service (NATS consumers, database, aggregates); the figures compare what it measures with the
// simulator's ground truth, and time its ingest and the dashboard's queries.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { MongoClient } from 'mongodb';
import {
  OUTCOME_TOKEN,
  partitionOf,
  SCHEMAS,
  subjects,
  type actions,
  type events,
  type triggers,
} from '@kairos/contracts';
import {
  AnalyticsState,
  compareProportions,
  loadAnalyticsConfig,
  outcomeFact,
  outcomeId,
  startAnalytics,
  FactStore,
} from '@kairos/analytics';
import { engagementWorkflowsYaml, simulateEngagement, type EngagementMessage } from '@kairos/loadgen';
import { provisionStreams, Publisher, silentLogger } from '@kairos/messaging';
import { createLogger, HttpServer } from '@kairos/service-kit';
import { percentile } from '@kairos/telemetry';
import { cpuSeconds, infraPids } from '@kairos/testkit';
import { table } from './table';

const DAY = 86_400_000;
const PARTITIONS = 16;
const INFRA_PER_DAY = 5;

export interface AnalyticsBenchOptions {
  natsUrl: string;
  mongoUrl: string;
  days: number;
  triggers: number;
  firesPerTriggerPerDay: number;
  /** Dashboard page loads timed (each is six queries). */
  pageLoads: number;
}

function publishOne(publisher: Publisher, m: EngagementMessage): Promise<unknown> {
  switch (m.kind) {
    case 'fire': {
      const tf: triggers.TriggerFired = m.message;
      const subject = subjects.triggerFired(partitionOf(tf.customerId, PARTITIONS), tf.trigger);
      return publisher.publish(subject, SCHEMAS.TriggerFired, tf, { msgId: tf.id });
    }
    case 'request': {
      const a: actions.ActionRequested = m.message;
      return publisher.publish(subjects.actionRequested(a.channels[0]), SCHEMAS.ActionRequested, a, {
        msgId: a.actionId,
      });
    }
    case 'outcome': {
      const o: actions.ActionOutcome = m.message;
      return publisher.publish(subjects.actionOutcome(o.status), SCHEMAS.ActionOutcome, o, {
        msgId: outcomeId(OUTCOME_TOKEN[o.status], o.actionId, o.channel),
      });
    }
    case 'event': {
      const e: events.EnrichedEvent = m.message;
      const ev = e.event!;
      const subject = subjects.enrichedEvent(partitionOf(ev.customerId, PARTITIONS), ev.category, ev.type);
      return publisher.publish(subject, SCHEMAS.EnrichedEvent, e, { msgId: ev.id });
    }
  }
}

/** Publishes with a bounded number of acknowledgements outstanding. */
async function publishAll(publisher: Publisher, list: readonly EngagementMessage[]): Promise<void> {
  const window = 2_000;
  const inFlight = new Set<Promise<unknown>>();
  for (const m of list) {
    const p = publishOne(publisher, m).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

export async function runAnalyticsBenchmark(
  o: AnalyticsBenchOptions,
): Promise<{ figures: Record<string, number>; table: string }> {
  const startMs = Date.UTC(2026, 0, 5);
  const sim = simulateEngagement({
    startMs,
    days: o.days,
    triggers: o.triggers,
    firesPerTriggerPerDay: o.firesPerTriggerPerDay,
  });
  const t = sim.truth;
  const dir = mkdtempSync(join(tmpdir(), 'kairos-bench-analytics-'));
  writeFileSync(join(dir, 'workflows.yaml'), engagementWorkflowsYaml(sim));
  const dbName = `bench_analytics_${Date.now()}`;
  const mongo = new MongoClient(o.mongoUrl);
  await mongo.connect();
  const db = mongo.db(dbName);
  const nc = await connect({ servers: o.natsUrl });
  const http = new HttpServer(createLogger('bench', 'silent'));
  try {
    await provisionStreams(nc);
    // 1. The history into JetStream first, so the consumers then run flat out.
    const publisher = new Publisher(nc, { logger: silentLogger });
    const published = performance.now();
    await publishAll(publisher, sim.messages);
    const publishS = (performance.now() - published) / 1000;
    // The service shares this process: the simulated messages go, so they do not burden its heap.
    const messageCount = sim.messages.length;
    sim.messages.length = 0;

    // 2. The service's consumers read it all: outcomes/s from start to the last outcome counted.
    const cfg = loadAnalyticsConfig({
      KAIROS_DEFINITIONS_DIR: dir,
      KAIROS_DEFINITIONS_WATCH: 'false',
      KAIROS_PARTITIONS: String(PARTITIONS),
      KAIROS_ANOMALY_CHECK_INTERVAL: '0s',
      KAIROS_INFRA_COST_PER_DAY: String(INFRA_PER_DAY),
    });
    // CPU cost per outcome does not move with the machine's load the way outcomes/s does. The service
    // runs in this process, which publishes nothing meanwhile: its CPU is the service's.
    const infraProcs = infraPids([new URL(o.natsUrl).port, new URL(o.mongoUrl).port].map(Number));
    const infraCpu = () => infraProcs.map(([name, pid]) => [name, cpuSeconds(pid)] as const);
    const cpu0 = process.cpuUsage();
    const infra0 = infraCpu();
    let cpuAtOutcomes = 0;
    const began = performance.now();
    const app = await startAnalytics(cfg, {
      nc,
      db,
      logger: createLogger('bench', 'warn'),
      http,
      clock: { now: () => startMs + (o.days + 5) * DAY },
    });
    const jsm = await jetstreamManager(nc);
    let outcomesDoneAt = 0;
    for (;;) {
      if (!outcomesDoneAt && app.state.outcomeCount.value >= t.outcomes) {
        outcomesDoneAt = performance.now();
        cpuAtOutcomes = cpuMicros(process.cpuUsage(cpu0));
      }
      let idle = true;
      for (const [stream, durable] of [
        ['TRIGGERS', 'analytics-fires'],
        ['ACTIONS', 'analytics-requests'],
        ['ACTIONS', 'analytics-outcomes'],
        ['EVENTS', 'analytics-events'],
      ]) {
        const info = await jsm.consumers.info(stream, durable);
        if (info.num_pending > 0 || info.num_ack_pending > 0) idle = false;
      }
      if (idle && outcomesDoneAt) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const consumeS = (performance.now() - began) / 1000;
    const cpuConsume = cpuMicros(process.cpuUsage(cpu0));
    const infraUs = infraCpu().map(
      ([name, s], i) => [name, ((s - infra0[i]![1]) * 1e6) / messageCount] as const,
    );
    const outcomesS = (outcomesDoneAt - began) / 1000;

    // 3. What it measured against the ground truth, over the whole month.
    const range = { fromMs: startMs, toMs: startMs + (o.days + 1) * DAY };
    const lift = app.reports.run('lift', { ...range, groupBy: 'workflow' });
    const treated = lift.rows.reduce((a, r) => ({ n: a.n + r.treated!.n, x: a.x + r.treated!.conversions }), {
      n: 0,
      x: 0,
    });
    const control = lift.rows.reduce((a, r) => ({ n: a.n + r.control!.n, x: a.x + r.control!.conversions }), {
      n: 0,
      x: 0,
    });
    const pooled = compareProportions(treated.x, treated.n, control.x, control.n);
    const covered = lift.rows.filter(
      (r) => r.absoluteCi!.low <= t.trueLift && t.trueLift <= r.absoluteCi!.high,
    ).length;
    const roi = app.reports.run('roi', { ...range, groupBy: 'workflow' });
    const value = roi.rows.reduce((a, r) => a + r.attributedValue, 0);
    const cost = roi.rows.reduce((a, r) => a + r.totalCost, 0);
    const measuredRoi = (value - cost) / cost;
    const infra = INFRA_PER_DAY * (o.days + 1);
    const trueRoi = (t.attributedValue - t.messageCost - infra) / (t.messageCost + infra);

    // 4. The dashboard's queries over the month (the six a page load makes), through the HTTP API.
    const port = await http.start(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}/api`;
    const q = `from=${new Date(range.fromMs).toISOString()}&to=${new Date(range.toMs).toISOString()}`;
    const page = [
      `volume?${q}&granularity=hour`,
      `funnel?${q}&group_by=workflow`,
      `lift?${q}`,
      `timing?${q}&group_by=timing_variant`,
      `reasons?${q}`,
      `roi?${q}&group_by=workflow`,
    ];
    const latencies: number[] = [];
    const byQuery = new Map<string, number[]>();
    const reportCpu0 = process.cpuUsage();
    for (let i = 0; i < o.pageLoads; i++) {
      for (const path of page) {
        const s = performance.now();
        const res = await fetch(`${base}/${path}`);
        await res.arrayBuffer();
        const ms = performance.now() - s;
        if (!res.ok) throw new Error(`${path}: ${res.status}`);
        latencies.push(ms);
        const k = path.split('?')[0];
        byQuery.set(k, [...(byQuery.get(k) ?? []), ms]);
      }
    }
    // Client and server share this process: the CPU per query includes the HTTP client's.
    const reportCpuMs = cpuMicros(process.cpuUsage(reportCpu0)) / 1000 / latencies.length;
    latencies.sort((a, b) => a - b);
    await app.stop();

    // 5. A restart reads every stored fact back.
    const rebuilt = performance.now();
    const state = new AnalyticsState();
    await new FactStore(db).loadInto(state);
    const rebuildS = (performance.now() - rebuilt) / 1000;

    // 6. The aggregates alone (no NATS, no database): the in-memory fold's ceiling.
    const again = simulateEngagement({
      startMs,
      days: o.days,
      triggers: o.triggers,
      firesPerTriggerPerDay: o.firesPerTriggerPerDay,
    });
    const facts = again.messages
      .filter((m) => m.kind === 'outcome')
      .map((m) => outcomeFact(m.message as actions.ActionOutcome));
    const folded = new AnalyticsState();
    const f0 = performance.now();
    for (const f of facts) folded.addOutcome(f);
    const foldPerS = facts.length / ((performance.now() - f0) / 1000);

    const figures: Record<string, number> = {
      true_lift: round(t.trueLift, 5),
      measured_lift: round(pooled.absoluteLift, 5),
      lift_ci_low: round(pooled.absoluteCi.low, 5),
      lift_ci_high: round(pooled.absoluteCi.high, 5),
      lift_ci_coverage_per_workflow: round(covered / lift.rows.length, 3),
      true_roi: round(trueRoi, 4),
      measured_roi: round(measuredRoi, 4),
      roi_error_pct: round((Math.abs(measuredRoi - trueRoi) / Math.abs(trueRoi)) * 100, 3),
      analytics_outcomes_per_s: Math.round(t.outcomes / outcomesS),
      analytics_cpu_us_per_outcome: round(cpuAtOutcomes / t.outcomes, 1),
      analytics_messages_per_s: Math.round(messageCount / consumeS),
      analytics_cpu_us_per_message: round(cpuConsume / messageCount, 1),
      analytics_fold_outcomes_per_s: Math.round(foldPerS),
      analytics_rebuild_s: round(rebuildS, 2),
      report_p50_ms: round(percentile(latencies, 50), 2),
      report_p99_ms: round(percentile(latencies, 99), 2),
      report_cpu_ms_per_query: round(reportCpuMs, 2),
    };
    const rows: Array<Array<string | number>> = [
      [
        'simulated',
        `${o.days} days, ${o.triggers} triggers, ${t.runs.treated + t.runs.control} runs (${t.runs.control} held out), ${t.outcomes} outcomes, ${t.conversions} conversions, ${messageCount} messages`,
      ],
      ['published to JetStream', `${publishS.toFixed(1)} s (not counted below)`],
      ['true lift (absolute)', String(figures.true_lift)],
      [
        'measured lift, 95% Newcombe CI',
        `${figures.measured_lift} [${figures.lift_ci_low}, ${figures.lift_ci_high}] ${pooled.absoluteCi.low <= t.trueLift && t.trueLift <= pooled.absoluteCi.high ? 'contains' : 'MISSES'} the truth`,
      ],
      ['per-workflow CIs containing the truth', `${covered} of ${lift.rows.length}`],
      [
        'ROI true / measured',
        `${figures.true_roi} / ${figures.measured_roi} (error ${figures.roi_error_pct}%)`,
      ],
      ['outcomes/s (NATS → database → aggregates)', figures.analytics_outcomes_per_s],
      [
        'analytics CPU per outcome (all 4 consumers, until the last outcome)',
        `${figures.analytics_cpu_us_per_outcome} µs`,
      ],
      ['all messages/s (4 consumers together)', figures.analytics_messages_per_s],
      ['analytics CPU per message (whole consume)', `${figures.analytics_cpu_us_per_message} µs`],
      ...infraUs.map(([name, us]) => [`${name} CPU per message (whole consume)`, `${round(us, 1)} µs`]),
      ['outcomes/s folded in memory alone', figures.analytics_fold_outcomes_per_s],
      ['restart: facts read back', `${figures.analytics_rebuild_s} s`],
      [
        'dashboard query p50 / p99 (30 days, 50 triggers)',
        `${figures.report_p50_ms} / ${figures.report_p99_ms} ms`,
      ],
      ['dashboard query CPU (server and HTTP client)', `${figures.report_cpu_ms_per_query} ms per query`],
      ...[...byQuery].map(([k, v]) => [
        `  ${k} p99`,
        `${round(
          percentile(
            v.sort((a, b) => a - b),
            99,
          ),
          2,
        )} ms`,
      ]),
    ];
    return { figures, table: table('analytics', ['figure', 'value'], rows) };
  } finally {
    await http.close().catch(() => undefined);
    await db.dropDatabase().catch(() => undefined);
    await mongo.close();
    await nc.close();
  }
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** User + system CPU of a `process.cpuUsage()` reading, in µs. */
const cpuMicros = (u: NodeJS.CpuUsage) => u.user + u.system;
