import { context, type Context } from '@opentelemetry/api';
import { SCHEMAS, subjects, type events, profiles } from '@kairos/contracts';
import { CheckpointedPartition, type Publisher } from '@kairos/messaging';
import { PatternEngine, type Explanation, type FiredTrigger, type TriggerSpec } from '@kairos/patterns';
import type { Clock, Logger } from '@kairos/service-kit';
import { counter, gauge } from '@kairos/telemetry';
import type { CheckpointStore } from './checkpoints';
import { EventConversionError, toEngineEvent, toTriggerFired } from './domain/convert';

export interface DetectorSettings {
  allowedLatenessMs: number;
  checkpointIntervalMs: number;
  checkpointEvents: number;
  maxPartialMatches: number;
  /** See PatternEngineOptions.explainRetentionMs. */
  explainRetentionMs: number;
  /** Last profiles kept per partition (for fires completed by an absence deadline). */
  profileCacheSize: number;
}

const MAX_TRACE_CONTEXTS = 20_000;
const lateClamped = counter(
  'kairos_pattern_late_events_total',
  'Events that arrived behind the watermark and were matched at the watermark time',
  ['partition'],
);
const firedTotal = counter('kairos_triggers_fired_total', 'Triggers fired (published)', ['trigger']);
const duplicateFires = counter(
  'kairos_triggers_fired_duplicates_total',
  'Fires re-published after a replay and dropped by JetStream de-duplication',
  ['trigger'],
);
const skippedEvents = counter(
  'kairos_pattern_events_skipped_total',
  'Enriched events that could not be converted',
  ['partition'],
);
const lateDropped = gauge(
  'kairos_pattern_late_events_dropped',
  'Events dropped as later than the watermark',
  ['partition'],
);
const stateBytes = gauge('kairos_pattern_state_bytes', 'Serialized engine state per partition', [
  'partition',
]);
const watermarkGauge = gauge('kairos_pattern_watermark_seconds', 'Event-time watermark per partition', [
  'partition',
]);
const checkpoints = counter('kairos_pattern_checkpoints_total', 'Engine checkpoints written', ['partition']);

/**
 * One partition's pattern engine and everything that keeps it exact across crashes (see
 * CheckpointedPartition): every fire is published with msg id = the fire's deterministic id before
 * the next step runs, and watermark ticks, reloads and checkpoints run one at a time with events.
 */
export class PartitionDetector extends CheckpointedPartition<FiredTrigger> {
  readonly engine: PatternEngine;
  private pendingTimerFires: FiredTrigger[] = [];
  private readonly profiles = new Map<string, profiles.Profile>();
  private readonly label: { partition: string };
  /**
   * Trace context of each recently processed event (its CONSUMER span), so a fire published later —
   * released by the watermark, or an absence deadline — continues the trace of the event that
   * completed it rather than the trace of whatever event or timer released it. Bounded, oldest out.
   */
  private readonly traceContexts = new Map<string, Context>();

  constructor(
    partition: number,
    triggers: TriggerSpec[],
    private readonly settings: DetectorSettings,
    private readonly publisher: Publisher,
    private readonly store: CheckpointStore,
    clock: Clock,
    logger: Logger,
  ) {
    super(partition, clock, logger, {
      events: settings.checkpointEvents,
      intervalMs: settings.checkpointIntervalMs,
    });
    this.engine = new PatternEngine(triggers, {
      allowedLatenessMs: settings.allowedLatenessMs,
      maxPartialMatchesPerTrigger: settings.maxPartialMatches,
      explainRetentionMs: settings.explainRetentionMs,
    });
    this.label = { partition: String(partition) };
  }

  /**
   * Loads the checkpoint; returns the stream sequence to replay from (1 = the beginning).
   * `publishedSince` lists the fire ids already stored since a time (see published.ts).
   */
  async restore(publishedSince?: (sinceMs: number) => Promise<Set<string>>): Promise<number> {
    const cp = await this.store.load(this.partition);
    if (!cp) return 1;
    // A margin for clock differences between the checkpoint writer and the stream's timestamps.
    if (publishedSince) this.alreadyPublished = await publishedSince(cp.savedAt - 60_000);
    this.engine.restore(cp.snapshot);
    this.lastSequence = cp.sequence;
    for (const [cid, json] of Object.entries(cp.profiles))
      this.profiles.set(cid, profiles.Profile.fromJSON(json));
    this.logger.info(
      { partition: this.partition, sequence: cp.sequence, watermark: this.engine.currentWatermark },
      'engine restored from checkpoint',
    );
    return cp.sequence + 1;
  }

  protected override fold(enriched: events.EnrichedEvent, seq: number): FiredTrigger[] {
    try {
      const event = toEngineEvent(enriched);
      // An event behind the watermark was delayed in the mesh (a backlog upstream, a restart) or by
      // its client: match it at the watermark rather than lose it. Windows see it slightly later.
      const watermark = this.engine.currentWatermark;
      if (event.time < watermark) {
        event.time = watermark;
        lateClamped.inc(this.label);
      }
      this.rememberTraceContext(event.id);
      if (enriched.profile) this.rememberProfile(event.customerId, enriched.profile);
      return this.engine.process(event);
    } catch (err) {
      if (!(err instanceof EventConversionError)) throw err;
      skippedEvents.inc(this.label);
      this.logger.warn({ partition: this.partition, seq, err: err.message }, 'enriched event skipped');
      return [];
    }
  }

  protected override async publishAll(fires: FiredTrigger[]): Promise<void> {
    for (const f of fires) {
      if (this.alreadyPublished.has(f.id)) {
        duplicateFires.inc({ trigger: f.trigger });
        this.logger.info(
          { partition: this.partition, trigger: f.trigger, customer: f.customerId, id: f.id },
          'fire already stored before the restart (replay); not re-published (de-duplicated)',
        );
        continue;
      }
      const message = toTriggerFired(f, this.profiles.get(f.customerId));
      const publish = () =>
        this.publisher.publish(
          subjects.triggerFired(this.partition, f.trigger),
          SCHEMAS.TriggerFired,
          message,
          {
            msgId: f.id,
          },
        );
      const traceContext = this.traceContextOf(f);
      const ack = await (traceContext ? context.with(traceContext, publish) : publish());
      if (ack.duplicate) {
        duplicateFires.inc({ trigger: f.trigger });
        this.logger.info(
          { partition: this.partition, trigger: f.trigger, customer: f.customerId, id: f.id },
          'fire already published (replay); de-duplicated',
        );
        continue;
      }
      firedTotal.inc({ trigger: f.trigger });
      this.logger.debug(
        { partition: this.partition, trigger: f.trigger, customer: f.customerId, id: f.id },
        'fired',
      );
    }
  }

  private rememberTraceContext(eventId: string): void {
    this.traceContexts.delete(eventId);
    this.traceContexts.set(eventId, context.active());
    if (this.traceContexts.size > MAX_TRACE_CONTEXTS) {
      this.traceContexts.delete(this.traceContexts.keys().next().value!);
    }
  }

  /** The completing event's trace; for an absence, the trace of the last event the match bound. */
  private traceContextOf(f: FiredTrigger): Context | undefined {
    if (f.completingEventId) return this.traceContexts.get(f.completingEventId);
    for (let i = f.matched.length - 1; i >= 0; i--) {
      const id = f.matched[i].event?.id;
      if (id && this.traceContexts.has(id)) return this.traceContexts.get(id);
    }
    return undefined;
  }

  /**
   * Watermark timer: once caught up, advances the engine to wall clock − allowed lateness (buffered
   * events are released and absence deadlines fire on idle partitions), publishes those fires, and
   * checkpoints when due. A replay after a crash re-fires them with the same ids (deduplicated).
   */
  tick(): Promise<void> {
    return this.serialize(async () => {
      if (this.pendingTimerFires.length) {
        await this.publishAll(this.pendingTimerFires);
        this.pendingTimerFires = [];
      }
      if (this.caughtUp) {
        const fires = this.engine.advanceTo(this.clock.now() - this.settings.allowedLatenessMs);
        if (fires.length) {
          this.dirty = true;
          this.pendingTimerFires = fires;
          await this.publishAll(fires);
          this.pendingTimerFires = [];
        }
      }
      const w = this.engine.currentWatermark;
      if (Number.isFinite(w)) watermarkGauge.set(this.label, w / 1000);
      lateDropped.set(this.label, this.engine.stats.lateEventsDropped);
      await this.checkpointIfDue();
    });
  }

  protected override canCheckpoint(): boolean {
    return super.canCheckpoint() && !this.pendingTimerFires.length;
  }

  protected override async saveCheckpoint(): Promise<void> {
    const snapshot = this.engine.snapshot();
    const withState = new Set(this.engine.customersWithState());
    const profileJson: Record<string, unknown> = {};
    for (const [cid, p] of this.profiles)
      if (withState.has(cid)) profileJson[cid] = profiles.Profile.toJSON(p);
    await this.store.save({
      partition: this.partition,
      sequence: this.lastSequence,
      savedAt: this.clock.now(),
      snapshot,
      profiles: profileJson,
    });
    checkpoints.inc(this.label);
    stateBytes.set(this.label, this.engine.stateBytes());
  }

  /** Hot reload: a trigger whose version changed restarts its partial matches. */
  setTriggers(triggers: TriggerSpec[]): Promise<void> {
    return this.serialize(() => {
      this.engine.setTriggers(triggers);
      this.dirty = true;
    });
  }

  /**
   * Erasure: forgets the customer's engine state and remembered profile, then writes a checkpoint
   * at once, so a restart cannot restore them. Throws (the command is retried) while a fire waits
   * to be published, since no checkpoint can be written then.
   */
  erase(customerId: string): Promise<{ engine_customers: number; checkpoints: number }> {
    return this.serialize(async () => {
      if (this.pending || this.pendingTimerFires.length)
        throw new Error(`partition ${this.partition}: a fire awaits publishing; erasure retried`);
      const had = this.engine.customersWithState().includes(customerId) || this.profiles.has(customerId);
      this.engine.dropCustomer(customerId);
      this.profiles.delete(customerId);
      await this.checkpointNow();
      return { engine_customers: had ? 1 : 0, checkpoints: 1 };
    });
  }

  explain(trigger: string, customerId: string): Promise<Explanation> {
    return this.serialize(() => this.engine.explain(trigger, customerId));
  }

  private rememberProfile(customerId: string, profile: profiles.Profile): void {
    // Map insertion order as LRU: re-insert on use, evict the oldest beyond the cap.
    this.profiles.delete(customerId);
    this.profiles.set(customerId, profile);
    const cap = this.settings.profileCacheSize;
    if (this.profiles.size > cap) {
      const oldest = this.profiles.keys().next().value;
      if (oldest !== undefined) this.profiles.delete(oldest);
    }
  }
}
