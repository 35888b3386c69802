import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { context, propagation, SpanKind } from '@opentelemetry/api';
import { actions, events, ingest, SCHEMAS, STREAMS } from '@kairos/contracts';
import { emailOnCartDefinitions, startSmtpSink, type SmtpSink } from '@kairos/testkit';
import { runCli } from '@kairos/kairosctl';
import { connectNats, silentLogger, type NatsConnection } from '@kairos/messaging';
import {
  assertTraceEdges,
  renderSpans,
  spanOf,
  testCredentials,
  waitFor,
  waitForTraceSpan,
  type SpanMatcher,
} from '@kairos/testkit';
import { Mesh } from '../src/mesh';
import { newCustomer as newCustomerIn, unary } from '../src/customers';
import { leaksIn } from '../src/leak-scan';
import { readUntil } from '../src/streams';

const DEFINITIONS = emailOnCartDefinitions('e2e').yaml;

describe('e2e: an event sent to ingest ends as a delivered email, in one trace across the mesh', function () {
  this.timeout(240_000);
  const mesh = new Mesh();
  let nc: NatsConnection;
  let smtp: SmtpSink;

  before(async () => {
    await mesh.startInfrastructure();
    smtp = await startSmtpSink();
    const defsDir = mkdtempSync(join(tmpdir(), 'kairos-e2e-defs-'));
    writeFileSync(join(defsDir, 'e2e.yaml'), DEFINITIONS);
    const enrichment = await mesh.startService('enrichment');
    const profileAddr = `127.0.0.1:${enrichment.grpcPort}`;
    await Promise.all([
      mesh.startService('ingest'),
      mesh.startService('pattern-detection', { KAIROS_DEFINITIONS_DIR: defsDir }),
      // The default arbitration settle window, as deployed: a run's first step then goes out from a
      // durable timer, after the TriggerFired that started it was processed.
      mesh.startService('orchestration', {
        KAIROS_DEFINITIONS_DIR: defsDir,
        KAIROS_PROFILE_ADDR: profileAddr,
      }),
      mesh.startService('delivery', { KAIROS_SMTP_URL: smtp.url }),
      mesh.startService('analytics', { KAIROS_DEFINITIONS_DIR: defsDir, KAIROS_DEFINITIONS_WATCH: 'false' }),
    ]);
    nc = await connectNats({ servers: mesh.nats.url, name: 'e2e', logger: silentLogger });
  });
  after(async () => {
    await nc?.close();
    await mesh.stop();
    await smtp?.close();
  });

  const newCustomer = (prefix: string) => newCustomerIn(mesh, prefix, 'Ada');

  /**
   * Tracks product.viewed then cart.item_added inside a client span, the caller's trace, which goes
   * to ingest as gRPC call metadata (`via: 'metadata'`) or only in each event's
   * `context.attributes` (`via: 'attributes'`, the call itself carrying no trace). Resolves with the
   * caller's trace id.
   */
  async function trackPair(customerId: string, via: 'metadata' | 'attributes'): Promise<string> {
    const ingestClient = new ingest.IngestServiceClient(
      `127.0.0.1:${mesh.services.get('ingest')!.grpcPort}`,
      credentials.createInsecure(),
    );
    let traceId = '';
    await mesh.tracer.startActiveSpan('client track', { kind: SpanKind.CLIENT }, async (span) => {
      traceId = span.spanContext().traceId;
      const now = Date.now();
      for (const [i, type] of ['product.viewed', 'cart.item_added'].entries()) {
        const md = new Metadata();
        const attributes: Record<string, string> = {};
        if (via === 'metadata') propagation.inject(context.active(), md, { set: (m, k, v) => m.set(k, v) });
        else propagation.inject(context.active(), attributes);
        const res = await unary<ingest.TrackRequest, ingest.TrackResponse>(
          ingestClient.track.bind(ingestClient),
          {
            event: events.Event.fromPartial({
              id: `${customerId}-${i}`,
              type,
              customerId,
              occurredAt: new Date(now - 1_000 + i * 500),
              properties: { sku: 'SKU-42', price: 99 },
              ...(via === 'attributes' ? { context: { attributes } } : {}),
            }),
          },
          md,
        );
        assert.equal(res.result?.outcome, ingest.EventOutcome.EVENT_OUTCOME_ACCEPTED);
      }
      span.end();
    });
    ingestClient.close();
    return traceId;
  }

  /** The one email to `email`, checked to carry the caller's trace id in X-Kairos-Trace-Id. */
  async function mailInTrace(email: string, traceId: string) {
    const mail = await waitFor(() => smtp.messages.find((m) => m.to.includes(email)), {
      timeoutMs: 60_000,
      message: `an email to ${email} at the SMTP peer`,
    });
    assert.match(mail.decoded, /SKU-42/);
    const mailTrace = mail.headers['x-kairos-trace-id'];
    if (mailTrace !== traceId) {
      await new Promise((r) => setTimeout(r, 2_000)); // let the exporters flush, for the message below
      assert.fail(
        `the delivered message carries trace ${mailTrace}, not the client's ${traceId}:\n` +
          `${renderSpans(mesh.otlp.spans, traceId)}\n---\n${renderSpans(mesh.otlp.spans, mailTrace)}`,
      );
    }
    return mail;
  }

  /** Every service's spans are in the caller's trace, each continuing the one before it. */
  async function assertOneTrace(
    traceId: string,
    clientToIngest: Array<[SpanMatcher, SpanMatcher]>,
  ): Promise<void> {
    await waitForTraceSpan(mesh.otlp, traceId, 'delivery', 'CONSUMER', 30_000);
    assertTraceEdges(
      mesh.otlp.spans,
      traceId,
      [
        ...clientToIngest,
        [spanOf('ingest', 'PRODUCER'), spanOf('enrichment', 'CONSUMER', /^events\.raw\./)],
        [spanOf('enrichment', 'CONSUMER'), spanOf('enrichment', 'PRODUCER', /^events\.enriched\./)],
        [spanOf('enrichment', 'PRODUCER'), spanOf('pattern-detection', 'CONSUMER', /^events\.enriched\./)],
        [
          spanOf('pattern-detection', 'CONSUMER'),
          spanOf('pattern-detection', 'PRODUCER', /^triggers\.fired\./),
        ],
        [spanOf('pattern-detection', 'PRODUCER'), spanOf('orchestration', 'CONSUMER', /^triggers\.fired\./)],
        [spanOf('orchestration', 'CONSUMER'), spanOf('orchestration', 'PRODUCER', /^actions\.requested\./)],
        [spanOf('orchestration', 'PRODUCER'), spanOf('delivery', 'CONSUMER', /^actions\.requested\./)],
      ],
      { indirect: true },
    );
  }

  it('product.viewed + cart.item_added → TriggerFired → ActionRequested → email at the SMTP peer + SENT outcome, one trace (traceparent in call metadata)', async () => {
    const { customerId, email } = await newCustomer('e2e-buyer');
    const traceId = await trackPair(customerId, 'metadata');
    await mailInTrace(email, traceId);

    const [fired] = await readUntil(
      nc,
      STREAMS.TRIGGERS.name,
      'triggers.fired.>',
      (m) => SCHEMAS.TriggerFired.type.decode(m.data),
      (items) => items.some((f) => f.customerId === customerId),
    ).then((all) => all.filter((f) => f.customerId === customerId));
    assert.equal(fired.trigger, 'e2e-viewed-then-carted');
    assert.deepEqual(
      fired.matched.map((m) => [m.alias, m.eventId]),
      [
        ['view', `${customerId}-0`],
        ['add', `${customerId}-1`],
      ],
    );
    assert.ok(fired.explanation.length > 0, 'the fired trigger explains itself');

    const outcomes = await readUntil(
      nc,
      STREAMS.ACTIONS.name,
      'actions.outcome.>',
      (m) => SCHEMAS.ActionOutcome.type.decode(m.data),
      (items) =>
        items.some(
          (o) => o.customerId === customerId && o.status === actions.OutcomeStatus.OUTCOME_STATUS_SENT,
        ),
    );
    const sent = outcomes.filter(
      (o) => o.customerId === customerId && o.status === actions.OutcomeStatus.OUTCOME_STATUS_SENT,
    );
    assert.equal(sent.length, 1, 'exactly one SENT outcome');
    assert.equal(sent[0].workflow, 'e2e-cart-nudge');
    assert.equal(sent[0].metadata.trace_id, traceId, 'the outcome names the caller trace');
    assert.equal(smtp.messages.filter((m) => m.to.includes(email)).length, 1, 'exactly one email');

    // `kairosctl trace` answers "why did this customer get this message?" from the real mesh.
    const lines: string[] = [];
    const io = {
      out: (l: string) => lines.push(l),
      err: (l: string) => lines.push(`ERR ${l}`),
      env: {
        NATS_URL: mesh.nats.url,
        KAIROS_ORCHESTRATION_URL: `http://127.0.0.1:${mesh.services.get('orchestration')!.httpPort}`,
        KAIROS_ADMIN_TOKEN_FILE: testCredentials().adminTokenFile,
      },
      now: () => Date.now(),
    };
    assert.equal(await runCli(['trace', sent[0].actionId], io), 0, lines.join('\n'));
    const report = lines.join('\n');
    assert.match(report, /Trigger\s+e2e-viewed-then-carted v1 fired/);
    assert.match(report, new RegExp(`${customerId}-1\\s+cart\\.item_added`), 'the matched event is listed');
    assert.match(report, new RegExp(`Run\\s+${sent[0].runId} of workflow e2e-cart-nudge: completed`));
    assert.match(report, /sent\s+email/);
    lines.length = 0;
    assert.equal(await runCli(['trace', `${customerId}-1`], io), 0, lines.join('\n'));
    assert.match(lines.join('\n'), /led to 1 action/);

    // Analytics counted the trigger's fire and the sent message.
    const analyticsIo = {
      ...io,
      env: {
        KAIROS_ANALYTICS_ADDR: `127.0.0.1:${mesh.services.get('analytics')!.grpcPort}`,
        KAIROS_ADMIN_TOKEN_FILE: testCredentials().adminTokenFile,
      },
    };
    await waitFor(
      async () => {
        lines.length = 0;
        const code = await runCli(
          ['report', 'funnel', '--workflow', 'e2e-cart-nudge', '-o', 'json'],
          analyticsIo,
        );
        const rows =
          code === 0 ? (JSON.parse(lines.join('\n')) as { rows?: Array<{ sent?: string }> }).rows : [];
        return Number(rows?.[0]?.sent ?? 0) >= 1;
      },
      { timeoutMs: 30_000, message: 'analytics to count the sent email' },
    );

    await assertOneTrace(traceId, [
      ['client track', spanOf('ingest', 'SERVER')],
      [spanOf('ingest', 'SERVER'), spanOf('ingest', 'PRODUCER', /^events\.raw\./)],
    ]);
  });

  it('a caller whose trace travels only in context.attributes gets its email in that trace', async () => {
    const { customerId, email } = await newCustomer('e2e-attr');
    const traceId = await trackPair(customerId, 'attributes');
    await mailInTrace(email, traceId);
    // The call itself started a trace of its own at ingest; the event's PRODUCER span continues the
    // caller's, and so does everything after it.
    await assertOneTrace(traceId, [['client track', spanOf('ingest', 'PRODUCER', /^events\.raw\./)]]);
  });

  it('no service log line and no span holds a contact point or a message body', async () => {
    assert.ok(smtp.messages.length >= 2, 'the tests before this one delivered their emails');
    // What must never leave the data stores: the customers' addresses, the rendered messages.
    const forbidden = [/@example\.test/i, /waiting in your cart/i, /You left something in your cart/i];
    const { leaks } = leaksIn(mesh, forbidden);
    const logged = [...mesh.services.values()].reduce((n, s) => n + s.process.logs().length, 0);
    assert.ok(logged > 0 && mesh.otlp.spans.length > 0, 'there were logs and spans to scan');
    assert.deepEqual(leaks, [], `contact points or message bodies in ${leaks.length} log lines or spans`);
  });
});
