import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { events, ingest, STREAMS } from '@kairos/contracts';
import { createPopulation } from '@kairos/loadgen';
import { connectNats, silentLogger, type NatsConnection } from '@kairos/messaging';
import {
  DAY_MS,
  MongoCheckpointStore,
  parseEventRecord,
  PredictionEngine,
  type FeatureEvent,
} from '@kairos/prediction';
import {
  adminHeaders,
  assertTraceEdges,
  renderSpans,
  startSmtpSink,
  waitFor,
  type CollectedSpan,
  type SmtpSink,
} from '@kairos/testkit';
import { Mesh } from '../src/mesh';
import { newCustomer, unary } from '../src/customers';
import { readUntil } from '../src/streams';

const ROOT = join(__dirname, '..', '..', '..');
/** A retention workflow on the sample `churn-risk` trigger (examples/triggers.yaml). */
const RETENTION = `
apiVersion: kairos/v1
kind: Workflow
metadata: { name: e2e-retention }
spec:
  trigger: churn-risk
  conditions: "profile.consent.marketing"
  steps:
    # The customer's best hour, asked of prediction; capped so the test does not wait for it.
    - wait: { until: best_time, max: 1s }
    - send:
        channel: email
        subject: 'We miss you'
        body: "Hi {{ profile.traits.name }}, here is 20% off your next order (churn score {{ event.properties.score }})."
`;
/** The quitter visits daily from 40 to 22 days ago, then goes silent. */
const ACTIVE_FROM_DAYS = 40;
const SILENT_FOR_DAYS = 22;

/** Models trained on the loadgen population (what a replayed history would give), as warm-start versions. */
async function seedModels(mongoUrl: string, dbName: string): Promise<PredictionEngine> {
  const population = createPopulation({ seed: 16, customers: 1_500, horizonDays: 30, churnDeclineDays: 21 });
  const trained = new PredictionEngine({ minExamples: 0 });
  const history = population.eventsUntil(population.options.startTime + 120 * DAY_MS);
  for (const record of history) trained.process(parseEventRecord(record) as FeatureEvent);
  const client = await MongoClient.connect(mongoUrl);
  await new MongoCheckpointStore(client.db(dbName), 20)
    .saveModels(0, trained.toJSON().models)
    .finally(() => client.close());
  return trained;
}

describe('e2e: a churn prediction fires churn-risk and a retention workflow emails the customer, one trace', function () {
  this.timeout(300_000);
  const mesh = new Mesh();
  let nc: NatsConnection;
  let smtp: SmtpSink;

  before(async function () {
    await mesh.startInfrastructure();
    smtp = await startSmtpSink();
    const defsDir = mkdtempSync(join(tmpdir(), 'kairos-e2e-retention-'));
    writeFileSync(join(defsDir, 'retention.yaml'), RETENTION);
    const seeded = await seedModels(mesh.mongo.url, `${mesh.dbName}_prediction`);
    assert.ok(seeded.churn.examples >= 1_000, 'the seeded churn model is past its cold start');
    const enrichment = await mesh.startService('enrichment');
    // The sample trigger wants a score of at least 0.8: fire there, not at the default 0.6.
    const prediction = await mesh.startService('prediction', {
      KAIROS_CHURN_ENTER: '0.8',
      KAIROS_IDLE_ADVANCE_INTERVAL: '1s',
    });
    await Promise.all([
      // The quitter's history is older than ingest's default 30 days.
      mesh.startService('ingest', { KAIROS_INGEST_MAX_PAST: '60d' }),
      mesh.startService('pattern-detection', {
        KAIROS_DEFINITIONS_DIR: join(ROOT, 'examples', 'triggers.yaml'),
      }),
      mesh.startService('orchestration', {
        KAIROS_DEFINITIONS_DIR: defsDir,
        KAIROS_PROFILE_ADDR: `127.0.0.1:${enrichment.grpcPort}`,
        KAIROS_PREDICTION_ADDR: `127.0.0.1:${prediction.grpcPort}`,
      }),
      mesh.startService('delivery', { KAIROS_SMTP_URL: smtp.url }),
    ]);
    nc = await connectNats({ servers: mesh.nats.url, name: 'e2e', logger: silentLogger });
  });
  after(async () => {
    await nc?.close();
    await mesh.stop();
    await smtp?.close();
  });

  const is = (service: string, kind: string, name?: RegExp) => (s: CollectedSpan) =>
    s.serviceName === service && s.kind === kind && (!name || name.test(s.name));

  it('churn.predicted → churn-risk → e2e-retention → email, in the trace the prediction started, linked to the event that moved the score', async () => {
    const { customerId, email } = await newCustomer(mesh, 'e2e-quitter', 'Grace');

    const ingestClient = new ingest.IngestServiceClient(
      `127.0.0.1:${mesh.services.get('ingest')!.grpcPort}`,
      credentials.createInsecure(),
    );
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    for (let d = ACTIVE_FROM_DAYS; d >= SILENT_FOR_DAYS; d--) {
      const res = await unary<ingest.TrackRequest, ingest.TrackResponse>(
        ingestClient.track.bind(ingestClient),
        {
          event: events.Event.fromPartial({
            id: `${customerId}-${d}`,
            type: 'page.viewed',
            customerId,
            occurredAt: new Date(today - d * DAY_MS + 10 * 3_600_000),
          }),
        },
      );
      assert.equal(res.result?.outcome, ingest.EventOutcome.EVENT_OUTCOME_ACCEPTED);
    }
    ingestClient.close();

    const mail = await waitFor(() => smtp.messages.find((m) => m.to.includes(email)), {
      timeoutMs: 90_000,
      message: `a retention email to ${email}`,
    });
    assert.match(mail.decoded, /20% off/);

    // The run waited for the customer's best hour as prediction estimated it (capped at 1s).
    const runs = (await (
      await fetch(
        `http://127.0.0.1:${mesh.services.get('orchestration')!.httpPort}/runs?customer=${customerId}`,
        { headers: adminHeaders() },
      )
    ).json()) as { runs: Array<{ workflow: string; history: Array<{ event: string; detail?: string }> }> };
    const run = runs.runs.find((r) => r.workflow === 'e2e-retention');
    assert.ok(run, 'the retention run');
    assert.ok(
      run.history.some((h) => /best hour \d\d:00 UTC \(evidence [\d.]+\)/.test(h.detail ?? '')),
      JSON.stringify(run.history),
    );

    const predicted = (
      await readUntil(
        nc,
        STREAMS.EVENTS.name,
        'events.raw.*.predicted.>',
        (m) => events.Event.decode(m.data),
        (items) => items.some((e) => e.customerId === customerId),
      )
    ).filter((e) => e.customerId === customerId);
    // A daily visitor may also look like a buyer (purchase.predicted); it churns once.
    const churn = predicted.filter((e) => e.type === 'churn.predicted');
    assert.equal(churn.length, 1, 'one churn prediction for the customer');
    const props = churn[0].properties as Record<string, unknown>;
    assert.ok((props.score as number) >= 0.8, `score ${String(props.score)}`);
    assert.equal((props.top_features as unknown[]).length, 3);

    // One trace: the prediction's root span, then every hop to the delivered email.
    const traceId = mail.headers['x-kairos-trace-id'];
    await mesh.otlp
      .waitForSpans(
        (spans) =>
          spans.some((s) => s.traceId === traceId && s.serviceName === 'delivery' && s.kind === 'CONSUMER'),
        30_000,
      )
      .catch(() => {
        throw new Error(`trace incomplete:\n${renderSpans(mesh.otlp.spans, traceId)}`);
      });
    const root = mesh.otlp.spans.find((s) => s.traceId === traceId && s.parentSpanId === undefined);
    assert.ok(root, `the trace has a root span:\n${renderSpans(mesh.otlp.spans, traceId)}`);
    assert.equal(root.serviceName, 'prediction');
    assert.equal(root.name, 'churn.predicted predict');
    assertTraceEdges(
      mesh.otlp.spans,
      traceId,
      [
        [is('prediction', 'INTERNAL', /predict$/), is('prediction', 'PRODUCER', /^events\.raw\./)],
        [is('prediction', 'PRODUCER'), is('enrichment', 'CONSUMER', /^events\.raw\./)],
        [is('enrichment', 'CONSUMER'), is('enrichment', 'PRODUCER', /^events\.enriched\./)],
        [is('enrichment', 'PRODUCER'), is('pattern-detection', 'CONSUMER', /^events\.enriched\./)],
        [is('pattern-detection', 'CONSUMER'), is('pattern-detection', 'PRODUCER', /^triggers\.fired\./)],
        [is('pattern-detection', 'PRODUCER'), is('orchestration', 'CONSUMER', /^triggers\.fired\./)],
        [is('orchestration', 'CONSUMER'), is('orchestration', 'PRODUCER', /^actions\.requested\./)],
        [is('orchestration', 'PRODUCER'), is('delivery', 'CONSUMER', /^actions\.requested\./)],
      ],
      { indirect: true },
    );
    // The link leads to the customer's event as prediction consumed it, in that event's own trace.
    assert.equal(root.links.length, 1);
    const linked = await waitFor(() => mesh.otlp.spans.find((s) => s.spanId === root.links[0].spanId), {
      timeoutMs: 10_000,
      message: 'the linked span',
    });
    assert.notEqual(linked.traceId, traceId);
    assert.ok(is('prediction', 'CONSUMER', /^events\.enriched\./)(linked), `linked to ${linked.name}`);
  });
});
