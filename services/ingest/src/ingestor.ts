import { context, propagation, trace, type Context } from '@opentelemetry/api';
import { status } from '@grpc/grpc-js';
import { encodeEventBytes, events, ingest, partitionOf, SCHEMAS, subjects } from '@kairos/contracts';
import type { BatchMessage, PubAck, Publisher } from '@kairos/messaging';
import { inject, injectable, TOKENS, type Clock } from '@kairos/service-kit';
import { counter } from '@kairos/telemetry';
import { authorizeEvent, type Principal } from './domain/auth';
import type { Classifier } from './domain/classification';
import type { Prioritizer } from './domain/prioritization';
import { INGEST_TOKENS } from './tokens';
import { validateAndComplete, type ValidationLimits } from './domain/validation';

/**
 * The trace an event belongs to when its client batched it (`context.attributes.traceparent`, set by
 * @kairos/client) and that trace differs from the call's: the event's PRODUCER span then continues
 * the caller's trace instead of the batch call's.
 */
function eventTraceContext(event: events.Event): Context | undefined {
  const carrier = event.context?.attributes;
  if (!carrier?.traceparent) return undefined;
  const callTrace = trace.getSpan(context.active())?.spanContext().traceId;
  if (callTrace && carrier.traceparent.includes(callTrace)) return undefined;
  return propagation.extract(context.active(), carrier);
}

const { EventOutcome } = ingest;
type EventResult = ingest.EventResult;

export interface IngestSettings extends ValidationLimits {
  partitions: number;
  maxBatch: number;
  streamWindow: number;
  /** Longest a Stream call may stay open (ms). */
  streamMaxDurationMs: number;
}

const eventsCounter = counter('kairos_ingest_events_total', 'Events received by ingest, by outcome', [
  'outcome',
]);

/** Outcome counts of one call, added to the counter once per call rather than once per event. */
export class OutcomeTally {
  accepted = 0;
  duplicates = 0;
  filtered = 0;
  rejected = 0;

  add(result: EventResult): void {
    switch (result.outcome) {
      case EventOutcome.EVENT_OUTCOME_ACCEPTED:
        this.accepted++;
        break;
      case EventOutcome.EVENT_OUTCOME_DUPLICATE:
        this.duplicates++;
        break;
      case EventOutcome.EVENT_OUTCOME_FILTERED:
        this.filtered++;
        break;
      default:
        this.rejected++;
    }
  }

  record(): void {
    if (this.accepted) eventsCounter.inc({ outcome: 'accepted' }, this.accepted);
    if (this.duplicates) eventsCounter.inc({ outcome: 'duplicate' }, this.duplicates);
    if (this.filtered) eventsCounter.inc({ outcome: 'filtered' }, this.filtered);
    if (this.rejected) eventsCounter.inc({ outcome: 'rejected' }, this.rejected);
  }
}

function stored(eventId: string, ack: PubAck): EventResult {
  return {
    eventId,
    outcome: ack.duplicate ? EventOutcome.EVENT_OUTCOME_DUPLICATE : EventOutcome.EVENT_OUTCOME_ACCEPTED,
    code: 0,
    message: '',
    rule: '',
  };
}

export function rejected(eventId: string, code: status, message: string): EventResult {
  return { eventId, outcome: EventOutcome.EVENT_OUTCOME_REJECTED, code, message, rule: '' };
}

/**
 * The ingest pipeline for one event: validate and complete (id, occurred_at), classify, authorize,
 * prioritize, then publish to `events.raw.<p>.<category>.<type>` with the event id as Nats-Msg-Id,
 * so a resent event is stored once (the PubAck says duplicate).
 */
@injectable()
export class Ingestor {
  constructor(
    @inject(INGEST_TOKENS.Settings) readonly settings: IngestSettings,
    @inject(TOKENS.Publisher) private readonly publisher: Publisher,
    @inject(INGEST_TOKENS.Classifier) private readonly classifier: Classifier,
    @inject(INGEST_TOKENS.Prioritizer) private readonly prioritizer: Prioritizer,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {}

  now(): number {
    return this.clock.now();
  }

  /**
   * Everything before the publish. Returns the final result for events that will not be published
   * (rejected, filtered), or undefined when the event is ready to publish.
   */
  prepare(event: events.Event, principal: Principal, prefix: string, now: number): EventResult | undefined {
    const invalid = validateAndComplete(event, this.settings, now, prefix);
    if (invalid) return rejected(event.id, status.INVALID_ARGUMENT, invalid);
    if (event.category === events.EventCategory.EVENT_CATEGORY_UNSPECIFIED) {
      event.category = this.classifier.classify(event.type);
    }
    const denied = authorizeEvent(principal, event, prefix);
    if (denied) return rejected(event.id, status.PERMISSION_DENIED, denied);
    if (!this.prioritizer.empty) {
      const decision = this.prioritizer.decide(event);
      if (!decision.keep) {
        return {
          eventId: event.id,
          outcome: EventOutcome.EVENT_OUTCOME_FILTERED,
          code: 0,
          message: `filtered by prioritization rule '${decision.rule}'`,
          rule: decision.rule,
        };
      }
    }
    return undefined;
  }

  /** The message an event is stored as: its subject, its bytes, its id as Nats-Msg-Id. */
  private message(event: events.Event): BatchMessage {
    const subject = subjects.rawEvent(
      partitionOf(event.customerId, this.settings.partitions),
      event.category,
      event.type,
    );
    return { subject, payload: encodeEventBytes(event), msgId: event.id };
  }

  /** Publishes a prepared event; resolves once JetStream stored it (or already had it). */
  async publish(event: events.Event, receivedAt: Date): Promise<EventResult> {
    event.receivedAt = receivedAt;
    const { subject, payload, msgId } = this.message(event);
    const publish = () => this.publisher.publishBytes(subject, SCHEMAS.Event.name, payload, { msgId });
    const eventTrace = eventTraceContext(event);
    return stored(event.id, await (eventTrace ? context.with(eventTrace, publish) : publish()));
  }

  /**
   * Publishes prepared events that carry their `receivedAt`, all at once; the results come in
   * order once JetStream stored every one. Events of the call's trace go out as one batch (one
   * PRODUCER span whose context each carries); an event from another trace (batched by its client)
   * is published on its own under that trace. Rejects when any publish fails for good.
   */
  async publishAll(batch: events.Event[]): Promise<EventResult[]> {
    const results = new Array<EventResult>(batch.length);
    const messages: BatchMessage[] = [];
    const positions: number[] = [];
    const ownTrace: number[] = [];
    for (let i = 0; i < batch.length; i++) {
      if (eventTraceContext(batch[i])) ownTrace.push(i);
      else {
        messages.push(this.message(batch[i]));
        positions.push(i);
      }
    }
    const together = this.publisher.publishBatch(SCHEMAS.Event.name, messages).then((acks) => {
      for (let j = 0; j < acks.length; j++) results[positions[j]] = stored(messages[j].msgId, acks[j]);
    });
    const singles = ownTrace.map((i) =>
      this.publish(batch[i], batch[i].receivedAt!).then((result) => void (results[i] = result)),
    );
    await Promise.all([together, ...singles]);
    return results;
  }

  /**
   * Processes a batch: every event is prepared, the publishable ones are published concurrently
   * (JetStream pipelines them) and the results come back in request order. Rejects when any publish
   * fails, so the caller never sees OK for an event that is not durable.
   */
  async ingestBatch(
    batch: events.Event[],
    principal: Principal,
    tally: OutcomeTally,
  ): Promise<EventResult[]> {
    const now = this.clock.now();
    const receivedAt = new Date(now);
    const results = new Array<EventResult>(batch.length);
    const publishable: events.Event[] = [];
    const positions: number[] = [];
    for (let i = 0; i < batch.length; i++) {
      const event = batch[i];
      const early = this.prepare(event, principal, `events[${i}]`, now);
      if (early) results[i] = early;
      else {
        event.receivedAt = receivedAt;
        publishable.push(event);
        positions.push(i);
      }
    }
    const published = await this.publishAll(publishable);
    for (let j = 0; j < published.length; j++) results[positions[j]] = published[j];
    for (const r of results) tally.add(r);
    return results;
  }
}
