import assert from 'node:assert/strict';
import { join } from 'node:path';
import { jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { KairosClient } from '@kairos/client';
import { actions, events, SCHEMAS, STREAMS, subjects } from '@kairos/contracts';
import { freePort, startServiceProcess, useNats, waitFor, type ServiceProcess } from '@kairos/testkit';
import { createPopulation, Ledger, Reactor, runLoad, type Delivery, type Population } from '../../src';

const ROOT = join(__dirname, '..', '..', '..', '..', '..');

/** Every raw event stored in the EVENTS stream, read in the background with an ordered consumer. */
class StoredEvents {
  readonly byId = new Map<string, { subject: string; event: events.Event }>();
  private messages?: ConsumerMessages;

  async start(nc: NatsConnection): Promise<void> {
    const consumer = await jetstream(nc).consumers.get(STREAMS.EVENTS.name, {
      filter_subjects: ['events.raw.>'],
    });
    this.messages = await consumer.consume();
    const messages = this.messages;
    void (async () => {
      for await (const m of messages) {
        const event = SCHEMAS.Event.type.decode(m.data);
        this.byId.set(event.id, { subject: m.subject, event });
      }
    })();
  }

  async stop(): Promise<void> {
    await this.messages?.close();
  }
}

/** A deterministic action id the population answers with an open (decisions depend only on the id). */
function actionThatOpens(population: Population, customerId: string, at: number): string {
  for (let i = 0; i < 10_000; i++) {
    const delivery: Delivery = {
      actionId: `it-action-${i}`,
      customerId,
      channel: 'email',
      deliveredAt: at,
      simulatedAt: population.clock,
    };
    if (population.react(delivery)?.decision.opened) return delivery.actionId;
  }
  throw new Error('no opening action found');
}

describe('loadgen against a real ingest process', function () {
  this.timeout(60_000);
  let ingest: ServiceProcess | undefined;
  let nc: NatsConnection;
  let client: KairosClient;
  const stored = new StoredEvents();
  // Registered before useNats so it runs first: the service stops while NATS is still up.
  after(async () => {
    await client?.close().catch(() => undefined);
    await stored.stop().catch(() => undefined);
    await ingest?.stop();
    await nc?.close();
  });
  const nats = useNats();

  before(async () => {
    const grpcPort = await freePort();
    ingest = await startServiceProcess({
      name: 'ingest',
      script: join(ROOT, 'services/ingest/dist/src/main.js'),
      env: {
        NATS_URL: nats.url,
        KAIROS_GRPC_PORT: String(grpcPort),
        KAIROS_HTTP_PORT: String(await freePort()),
        KAIROS_PARTITIONS: '4',
        OTEL_SDK_DISABLED: 'true',
        KAIROS_INGEST_CONFIG: undefined,
      },
      readiness: { grpcPort },
    });
    nc = await connect({ servers: nats.url, name: 'loadgen-it' });
    await stored.start(nc);
    client = new KairosClient({ address: `127.0.0.1:${grpcPort}` });
  });

  it('sends 200 simulated events at the offered rate and every one lands in the EVENTS stream', async () => {
    const population = createPopulation({ seed: 42, customers: 300, scenarios: 1, runId: 'it-load' });
    const result = await runLoad({ client, population, rate: 400, events: 200 });
    assert.equal(result.sent, 200);
    assert.equal(result.rejected, 0, result.firstError);
    assert.equal(result.accepted, 200);
    const ids = result.ledger.sent.map((s) => s.id);
    await waitFor(() => ids.every((id) => stored.byId.has(id)), {
      timeoutMs: 15_000,
      message: '200 events stored',
    });
    const expected = createPopulation({
      seed: 42,
      customers: 300,
      scenarios: 1,
      runId: 'it-load',
    }).nextEvents(200);
    for (const e of expected) {
      const { subject, event } = stored.byId.get(e.id)!;
      assert.equal(event.type, e.type);
      assert.equal(event.customerId, e.customerId);
      assert.match(
        subject,
        new RegExp(`^events\\.raw\\.\\d+\\.${e.category}\\.${e.type.replace('.', '\\.')}$`),
      );
    }
    assert.ok(result.ledger.sent.every((s) => s.outcome === 'accepted'));
  });

  it('answers a SENT action outcome on NATS with an email.opened event through ingest', async () => {
    const population = createPopulation({ seed: 7, customers: 20 });
    const ledger = new Ledger(population);
    const reactor = new Reactor({ nc, client, population, ledger });
    await reactor.start();
    try {
      const customer = population.customers[0];
      const at = Date.now();
      const actionId = actionThatOpens(population, customer.id, at);
      const outcome = actions.ActionOutcome.fromPartial({
        actionId,
        runId: 'run-1',
        workflow: 'welcome',
        trigger: 'signup',
        customerId: customer.id,
        channel: 'email',
        status: actions.OutcomeStatus.OUTCOME_STATUS_SENT,
        at: new Date(at),
      });
      // An outcome for a customer the simulator does not know is ignored.
      const stranger = { ...outcome, actionId: 'stranger-action', customerId: 'not-simulated' };
      const js = jetstream(nc);
      for (const o of [stranger, outcome]) {
        await js.publish(
          subjects.actionOutcome(actions.OutcomeStatus.OUTCOME_STATUS_SENT),
          SCHEMAS.ActionOutcome.type.encode(o).finish(),
          { msgID: o.actionId, headers: undefined },
        );
      }
      const openedId = `lg7-r-${actionId}-open`;
      await waitFor(() => stored.byId.has(openedId), { timeoutMs: 15_000, message: 'email.opened stored' });
      const { event, subject } = stored.byId.get(openedId)!;
      assert.equal(event.type, 'email.opened');
      assert.equal(event.customerId, customer.id);
      assert.equal(subject.endsWith('.customer_action.email.opened'), true);
      assert.equal(event.properties?.actionId, actionId);
      assert.equal(reactor.stats.outcomes, 1);
      assert.equal(reactor.stats.reacted, 1);
      assert.deepEqual(
        ledger.received.map((r) => [r.actionId, r.status, r.reaction?.opened]),
        [[actionId, 'sent', true]],
      );
      assert.ok(!stored.byId.has(`lg7-r-stranger-action-open`));
    } finally {
      await reactor.stop();
    }
  });
});
