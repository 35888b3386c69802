import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analytics } from '@kairos/contracts';
import {
  ANALYTICS_SERVICE_NAME,
  fireFact,
  loadAnalyticsConfig,
  outcomeFact,
  requestFact,
  startAnalytics,
  type AnalyticsApp,
} from '@kairos/analytics';
import { engagementWorkflowsYaml, simulateEngagement } from '@kairos/loadgen';
import { connectPublisher } from '@kairos/messaging';
import { createLogger, type GrpcServer } from '@kairos/service-kit';
import { useServers } from '@kairos/testkit';
import { cli, serveGrpc } from '../support';

describe('kairosctl report and trace against the analytics service', function () {
  this.timeout(60_000);
  const { nats, mongo, bus } = useServers({ dbPrefix: 'kairosctl-report', connect: connectPublisher });
  let app: AnalyticsApp;
  let grpc: GrpcServer;
  let env: NodeJS.ProcessEnv;
  const startMs = Math.floor((Date.now() - 3 * 86_400_000) / 3_600_000) * 3_600_000;
  const sim = simulateEngagement({ seed: 9, startMs, days: 1, triggers: 2, firesPerTriggerPerDay: 100 });

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kairosctl-report-'));
    writeFileSync(join(dir, 'workflows.yaml'), engagementWorkflowsYaml(sim));
    const cfg = loadAnalyticsConfig({
      KAIROS_DEFINITIONS_DIR: dir,
      KAIROS_DEFINITIONS_WATCH: 'false',
      KAIROS_ANOMALY_CHECK_INTERVAL: '0s',
    });
    app = await startAnalytics(cfg, {
      nc: bus.nc,
      db: mongo.db,
      logger: createLogger('report-test', 'silent'),
    });
    // The simulated history goes straight into the aggregates: this suite tests the CLI, not the consumers.
    for (const m of sim.messages) {
      if (m.kind === 'fire') app.state.addFire(fireFact(m.message));
      else if (m.kind === 'request') app.state.addRequest(requestFact(m.message));
      else if (m.kind === 'outcome') app.state.addOutcome(outcomeFact(m.message));
      else {
        const ev = m.message.event!;
        app.state.addConversion({
          id: ev.id,
          customerId: ev.customerId,
          type: ev.type,
          at: ev.occurredAt!.getTime(),
          values: Object.fromEntries(
            sim.workflows.map((w) => [w.name, Number((ev.properties as { revenue: number }).revenue)]),
          ),
        });
      }
    }
    let addr: string;
    ({ server: grpc, addr } = await serveGrpc(
      analytics.AnalyticsServiceService,
      app.handlers,
      ANALYTICS_SERVICE_NAME,
    ));
    env = { KAIROS_ANALYTICS_ADDR: addr, NATS_URL: nats.url };
  });
  after(async () => {
    await grpc?.shutdown(1_000);
    await app?.stop();
  });

  it('prints the funnel as a table and the lift as JSON with its interval', async () => {
    const funnel = await cli(['report', 'funnel', '--group-by', 'workflow', '--since', '7d'], env);
    assert.equal(funnel.code, 0, funnel.err.join('\n'));
    assert.match(funnel.out[0], /^group\s+sent\s+delivered\s+opened\s+clicked\s+converted/);
    assert.deepEqual(
      funnel.out.slice(1).map((l) => l.split(/\s+/)[0]),
      ['wf-1', 'wf-2'],
    );
    const lift = await cli(['report', 'lift', '-o', 'json'], env);
    assert.equal(lift.code, 0, lift.err.join('\n'));
    const json = JSON.parse(lift.out.join('\n')) as {
      rows: Array<{ key: string; absoluteCi: { low: number; high: number } }>;
      method: string;
    };
    assert.deepEqual(
      json.rows.map((r) => r.key),
      ['wf-1', 'wf-2'],
    );
    assert.ok(json.rows.every((r) => r.absoluteCi.low < r.absoluteCi.high));
    assert.match(json.method, /Newcombe/);
  });

  it('exports one row per message with its trigger, workflow, variant, holdout flag, times and value', async () => {
    const raw = await cli(['report', 'outcomes', '--raw'], env);
    assert.equal(raw.code, 0, raw.err.join('\n'));
    const header = raw.out[0].split(',');
    assert.deepEqual(header.slice(0, 10), [
      'action_id',
      'run_id',
      'trigger_id',
      'trigger',
      'workflow',
      'customer_id',
      'channel',
      'content_variant',
      'timing_variant',
      'holdout',
    ]);
    const runs = sim.truth.runs.treated + sim.truth.runs.control;
    assert.equal(raw.out.length - 1, runs);
    const rows = raw.out.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
    const value = rows.reduce((a, r) => a + Number(r.attributed_value), 0);
    assert.ok(Math.abs(value - sim.truth.attributedValue) < 1e-6);
    assert.equal(rows.filter((r) => r.holdout === 'true').length, sim.truth.runs.control);
  });

  it('traces a conversion to the message, run and trigger it is credited to', async () => {
    const credited = (await cli(['report', 'attribution', '-o', 'json', '--limit', '1'], env)).out.join('\n');
    const credit = (
      JSON.parse(credited) as { credits: Array<{ conversionId: string; actionId: string; runId: string }> }
    ).credits[0];
    const trace = await cli(['trace', credit.conversionId], env);
    assert.equal(trace.code, 0, trace.err.join('\n'));
    assert.match(trace.out[0], new RegExp(`^Conversion ${credit.conversionId}`));
    assert.ok(trace.out.some((l) => l.includes(credit.actionId) && l.includes(credit.runId)));
  });

  it('exits 2 naming what to fix for a bad command line, and 1 with the field for a bad query', async () => {
    const bad = await cli(['report', 'colour'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.err[0], /report: expected a measure \(volume, funnel/);
    const field = await cli(['report', 'volume', '--group-by', 'colour'], env);
    assert.equal(field.code, 1);
    assert.match(field.err[0], /INVALID_ARGUMENT: query\.group_by: 'colour' is not a grouping of volume/);
  });
});
