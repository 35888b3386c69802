import { context, SpanKind, trace, type SpanContext } from '@opentelemetry/api';
import { SCHEMAS, subjects, type events } from '@kairos/contracts';
import { CheckpointedPartition, type Publisher } from '@kairos/messaging';
import type { Clock, Logger } from '@kairos/service-kit';
import { counter, gauge } from '@kairos/telemetry';
import type { MongoCheckpointStore } from './checkpoints';
import { PredictionEngine, type EngineOptions } from './domain/engine';
import { predictedEventId, skipReason, toFeatureEvent, toPredictedEvent } from './domain/events';
import { DAY_MS } from './domain/features';
import type { PredictedEvent } from './domain/hysteresis';
import type { FaultHook } from './faults';

export interface PredictorSettings {
  engine: Partial<EngineOptions>;
  checkpointIntervalMs: number;
  checkpointEvents: number;
  /** Recent events whose span context is kept (the link of a predicted event). */
  traceContexts: number;
}

const tracer = trace.getTracer('kairos-prediction');
const eventsTotal = counter('kairos_prediction_events_total', 'Enriched events folded into the features', [
  'partition',
]);
const skippedTotal = counter(
  'kairos_prediction_events_skipped_total',
  'Enriched events that are not inputs (predicted events, malformed)',
  ['partition', 'reason'],
);
const predictedTotal = counter('kairos_prediction_predicted_total', 'Predicted events published', ['model']);
const duplicateTotal = counter(
  'kairos_prediction_predicted_duplicates_total',
  'Predicted events decided again by a replay and not stored twice',
  ['model'],
);
const customersGauge = gauge('kairos_prediction_customers', 'Customers with feature state', ['partition']);
const stateBytesGauge = gauge('kairos_prediction_state_bytes', 'Feature state in bytes', ['partition']);
const checkpointBytesGauge = gauge('kairos_prediction_checkpoint_bytes', 'Last checkpoint, gzip bytes', [
  'partition',
]);
const evictedGauge = gauge('kairos_prediction_evicted', 'Customers evicted by the state bound', [
  'partition',
]);
const examplesGauge = gauge('kairos_prediction_examples', 'Labelled examples learnt', ['partition', 'model']);
const watermarkGauge = gauge('kairos_prediction_watermark_seconds', 'Event time of the partition', [
  'partition',
]);
const checkpointsTotal = counter('kairos_prediction_checkpoints_total', 'Checkpoints written', ['partition']);

/**
 * One partition's prediction engine and what keeps it exact across crashes, like pattern-detection
 * (see CheckpointedPartition): predictions are published with deterministic ids before the next
 * event is folded, and the replay after a checkpoint decides the same predictions with the same ids
 * (the engine runs on event time).
 */
export class PartitionPredictor extends CheckpointedPartition<PredictedEvent> {
  engine: PredictionEngine;
  private readonly label: { partition: string };
  /** Span context of each customer's latest event (LRU): the link of a prediction made by silence. */
  private readonly lastEvent = new Map<string, { eventId: string; span: SpanContext }>();

  constructor(
    partition: number,
    private readonly settings: PredictorSettings,
    private readonly publisher: Publisher,
    private readonly store: MongoCheckpointStore,
    clock: Clock,
    logger: Logger,
    private readonly fault: FaultHook,
  ) {
    super(partition, clock, logger, {
      events: settings.checkpointEvents,
      intervalMs: settings.checkpointIntervalMs,
    });
    this.engine = new PredictionEngine(settings.engine);
    this.label = { partition: String(partition) };
  }

  /**
   * Loads the checkpoint, or warm-starts the models from the newest stored version when there is
   * none (`warmStart`); returns the stream sequence to replay from (1 = the beginning).
   * `publishedSince` lists the predicted event ids stored since a time.
   */
  async restore(
    warmStart: boolean,
    publishedSince: (sinceMs: number) => Promise<Set<string>>,
  ): Promise<number> {
    const cp = await this.store.load(this.partition);
    if (!cp) {
      if (warmStart) {
        const models = await this.store.newestModels();
        this.engine.adoptModels({ churn: models.churn?.state, purchase: models.purchase?.state });
        if (models.churn || models.purchase)
          this.logger.info(
            {
              partition: this.partition,
              churn: models.churn?._id,
              purchase: models.purchase?._id,
            },
            'no checkpoint: models warm-started from stored versions',
          );
      }
      return 1;
    }
    // A margin for clock differences between the checkpoint writer and the stream's timestamps.
    this.alreadyPublished = await publishedSince(cp.savedAt - 60_000);
    this.engine = PredictionEngine.fromJSON(cp.engine, this.settings.engine);
    this.lastSequence = cp.sequence;
    this.logger.info(
      {
        partition: this.partition,
        sequence: cp.sequence,
        customers: this.engine.store.size,
        eventTime: Number.isFinite(this.engine.watermark) ? new Date(this.engine.watermark) : undefined,
      },
      'prediction state restored from checkpoint',
    );
    return cp.sequence + 1;
  }

  protected override fold(enriched: events.EnrichedEvent, seq: number): PredictedEvent[] {
    const reason = skipReason(enriched);
    if (reason) {
      skippedTotal.inc({ ...this.label, reason: reason === 'predicted' ? 'predicted' : 'malformed' });
      if (reason !== 'predicted')
        this.logger.warn({ partition: this.partition, seq, err: reason }, 'enriched event skipped');
      return [];
    }
    const e = toFeatureEvent(enriched);
    this.rememberSpan(e.customerId, e.id);
    const decisions = this.engine.process(e);
    eventsTotal.inc(this.label);
    return decisions;
  }

  /**
   * Moves a caught-up partition's event time to the start of the current UTC day, so a quiet
   * partition still notices silence. Only to a day boundary: the engine then decides exactly what
   * it would when the next event of the day arrived, and a replay stays equal to the live run.
   */
  advanceIdle(): Promise<void> {
    return this.serialize(async () => {
      if (!this.caughtUp || this.pending) return;
      const dayStart = Math.floor(this.clock.now() / DAY_MS) * DAY_MS;
      if (!(dayStart > this.engine.watermark)) return;
      const decisions = this.engine.advanceTo(dayStart);
      this.dirty = true;
      if (!decisions.length) return;
      this.pending = { sequence: this.lastSequence, outputs: decisions };
      await this.publishPending();
    });
  }

  protected override async publishAll(decisions: PredictedEvent[]): Promise<void> {
    for (const d of decisions) await this.publish(d);
  }

  /**
   * Publishes one prediction on the normal event path (`events.raw`, as ingest does), in a new
   * trace whose root span links to the event that moved the score (for a silence, the customer's
   * latest event): enrichment, pattern-detection and orchestration then continue that trace.
   */
  private async publish(d: PredictedEvent): Promise<void> {
    const id = predictedEventId(d);
    if (this.alreadyPublished.has(id)) {
      duplicateTotal.inc({ model: d.model });
      return;
    }
    const event = toPredictedEvent(d, this.partition, new Date(this.clock.now()));
    const cause = this.lastEvent.get(d.customerId);
    const link =
      cause && (d.causeEventId === '' || d.causeEventId === cause.eventId) ? cause.span : undefined;
    const ack = await tracer.startActiveSpan(
      `${d.type} predict`,
      {
        kind: SpanKind.INTERNAL,
        root: true,
        links: link ? [{ context: link, attributes: { 'kairos.link': 'moved the score' } }] : [],
        attributes: {
          'kairos.customer_id': d.customerId,
          'kairos.event_id': id,
          'kairos.model': d.model,
          'kairos.model_version': d.modelVersion,
          'kairos.score': d.score,
          'kairos.cause_event_id': d.causeEventId,
        },
      },
      async (span) => {
        try {
          return await this.publisher.publish(
            subjects.rawEvent(this.partition, event.category, event.type),
            SCHEMAS.Event,
            event,
            { msgId: id },
          );
        } finally {
          span.end();
        }
      },
    );
    this.fault('after-predicted-publish');
    if (ack.duplicate) {
      duplicateTotal.inc({ model: d.model });
      return;
    }
    predictedTotal.inc({ model: d.model });
    this.logger.info(
      { partition: this.partition, customer: d.customerId, type: d.type, score: d.score, id },
      'prediction published',
    );
  }

  private rememberSpan(customerId: string, eventId: string): void {
    const span = trace.getSpanContext(context.active());
    if (!span) return;
    this.lastEvent.delete(customerId);
    this.lastEvent.set(customerId, { eventId, span });
    if (this.lastEvent.size > this.settings.traceContexts)
      this.lastEvent.delete(this.lastEvent.keys().next().value!);
  }

  /**
   * Erasure: forgets the customer's features, gates and pending examples, then writes a checkpoint
   * at once so a restart cannot restore them. Throws (the command is retried) while a prediction
   * waits to be published, since no checkpoint can be written then.
   */
  erase(customerId: string): Promise<Record<string, number>> {
    return this.serialize(async () => {
      if (this.pending) throw new Error(`partition ${this.partition}: a prediction awaits publishing`);
      const dropped = this.engine.dropCustomer(customerId);
      this.lastEvent.delete(customerId);
      await this.checkpointNow();
      return {
        feature_states: dropped.customers,
        pending_examples: dropped.pending_examples,
        checkpoints: 1,
      };
    });
  }

  /** Timer: writes a checkpoint when the partition changed and the interval passed; sets gauges. */
  tick(): Promise<void> {
    return this.serialize(async () => {
      const w = this.engine.watermark;
      if (Number.isFinite(w)) watermarkGauge.set(this.label, w / 1000);
      customersGauge.set(this.label, this.engine.store.size);
      stateBytesGauge.set(this.label, this.engine.store.bytes);
      evictedGauge.set(this.label, this.engine.store.evicted);
      examplesGauge.set({ ...this.label, model: 'churn' }, this.engine.churn.examples);
      examplesGauge.set({ ...this.label, model: 'purchase' }, this.engine.purchase.examples);
      await this.checkpointIfDue();
    });
  }

  protected override async saveCheckpoint(): Promise<void> {
    const bytes = await this.store.save({
      partition: this.partition,
      sequence: this.lastSequence,
      savedAt: this.clock.now(),
      engine: this.engine.toJSON(),
    });
    checkpointsTotal.inc(this.label);
    checkpointBytesGauge.set(this.label, bytes);
  }
}
