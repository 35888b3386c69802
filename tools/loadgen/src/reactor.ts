import { DeliverPolicy, jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { actions, filters, OUTCOME_TOKEN, SCHEMAS, STREAMS } from '@kairos/contracts';
import { Ledger } from './ledger';
import type { Population } from './population';
import { toTrackEvent, type EventSink } from './run-load';

export interface ReactorOptions {
  /** NATS server URL(s); or pass an open connection as `nc` (then it is not closed on stop). */
  natsUrl?: string | string[];
  nc?: NatsConnection;
  client: EventSink;
  population: Population;
  ledger?: Ledger;
  /**
   * Which outcomes to read: those stored from the moment `start` is called (default), or the whole
   * ACTIONS stream (`all`, e.g. to replay a finished run).
   */
  from?: 'start' | 'all';
  /**
   * Timestamps of the reaction events: `wall` (default) = now, so ingest takes them as live;
   * `delivery` = the outcome's `at` (simulated runs).
   */
  timestamps?: 'wall' | 'delivery';
  onReaction?(outcome: actions.ActionOutcome, emitted: number): void;
  onError?(err: Error): void;
}

export interface ReactorStats {
  /** Outcomes read for simulated customers. */
  outcomes: number;
  /** `sent` outcomes reacted to (each action once). */
  reacted: number;
  opened: number;
  clicked: number;
  converted: number;
  /** Reaction events handed to the client. */
  emitted: number;
  /** Reaction events the client failed to deliver. */
  failed: number;
}

/**
 * The reaction loop: reads `actions.outcome.>` from the ACTIONS stream with an ephemeral ordered
 * consumer; for every `sent` outcome addressed to a simulated customer it asks the population how
 * the customer reacts and sends the resulting events (email.opened / message.opened,
 * message.clicked, order.completed) back through the client. Every outcome for a simulated customer
 * is recorded in the ledger with the decision.
 */
export class Reactor {
  readonly stats: ReactorStats = {
    outcomes: 0,
    reacted: 0,
    opened: 0,
    clicked: 0,
    converted: 0,
    emitted: 0,
    failed: 0,
  };
  readonly ledger: Ledger;
  private nc?: NatsConnection;
  private ownsConnection = false;
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private readonly reactedTo = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: ReactorOptions) {
    this.ledger = options.ledger ?? new Ledger(options.population);
  }

  async start(): Promise<void> {
    if (this.options.nc) this.nc = this.options.nc;
    else {
      if (!this.options.natsUrl) throw new Error('Reactor: give natsUrl or nc');
      this.nc = await connect({ servers: this.options.natsUrl, name: 'kairos-loadgen-reactor' });
      this.ownsConnection = true;
    }
    const consumer = await jetstream(this.nc).consumers.get(STREAMS.ACTIONS.name, {
      filter_subjects: [filters.allOutcomes],
      ...(this.options.from === 'all'
        ? { deliver_policy: DeliverPolicy.All }
        : // By start time rather than `new`: nothing stored after start() is missed, however long
          // the server takes to create the consumer.
          { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date().toISOString() }),
    });
    this.messages = await consumer.consume();
    const messages = this.messages;
    this.loop = (async () => {
      for await (const m of messages) {
        try {
          this.handle(SCHEMAS.ActionOutcome.type.decode(m.data));
        } catch (err) {
          this.options.onError?.(err as Error);
        }
      }
    })();
  }

  private handle(outcome: actions.ActionOutcome): void {
    const population = this.options.population;
    if (!population.customer(outcome.customerId)) return;
    this.stats.outcomes++;
    const sent = outcome.status === actions.OutcomeStatus.OUTCOME_STATUS_SENT;
    const deliveredAt = outcome.at ? outcome.at.getTime() : Date.now();
    const reaction =
      sent && !this.reactedTo.has(outcome.actionId)
        ? population.react(
            {
              actionId: outcome.actionId,
              customerId: outcome.customerId,
              channel: outcome.channel,
              deliveredAt,
              // Churn is a simulated-time fate: compare it with the population's clock, not the wall.
              simulatedAt: population.clock,
              workflow: outcome.workflow,
              trigger: outcome.trigger,
            },
            this.options.timestamps === 'delivery' ? deliveredAt : Date.now(),
          )
        : undefined;
    this.ledger.recordReceived({
      actionId: outcome.actionId,
      customerId: outcome.customerId,
      channel: outcome.channel,
      status: OUTCOME_TOKEN[outcome.status] ?? String(outcome.status),
      workflow: outcome.workflow,
      trigger: outcome.trigger,
      at: new Date(deliveredAt).toISOString(),
      reaction: reaction?.decision,
    });
    if (!reaction) return;
    this.reactedTo.add(outcome.actionId);
    this.stats.reacted++;
    if (reaction.decision.opened) this.stats.opened++;
    if (reaction.decision.clicked) this.stats.clicked++;
    if (reaction.decision.converted) this.stats.converted++;
    for (const event of reaction.events) {
      this.ledger.recordSent(event, event.occurredAt, 'reaction');
      this.stats.emitted++;
      const p = this.options.client.track(toTrackEvent(event)).then(
        (result) => this.ledger.recordOutcome(event.id, result.outcome),
        (err: Error) => {
          this.stats.failed++;
          this.ledger.recordOutcome(event.id, 'rejected', err.message);
          this.options.onError?.(err);
        },
      );
      const tracked = p.finally(() => this.inFlight.delete(tracked));
      this.inFlight.add(tracked);
    }
    this.options.onReaction?.(outcome, reaction.events.length);
  }

  /** Stops reading, waits for the reaction events in flight, and closes its own connection. */
  async stop(): Promise<void> {
    if (this.messages) await this.messages.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
    await Promise.all(this.inFlight);
    await this.options.client.flush();
    if (this.ownsConnection) await this.nc?.close();
  }
}
