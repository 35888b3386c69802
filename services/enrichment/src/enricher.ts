import { inject, injectable } from '@kairos/service-kit';
import { events, partitionOfSubject, SCHEMAS, subjects, type profiles } from '@kairos/contracts';
import type { BatchCommit, BatchItem, NatsConnection, Publisher } from '@kairos/messaging';
import { TOKENS, type Clock, type Logger } from '@kairos/service-kit';
import { counter } from '@kairos/telemetry';
import { boundTraits, type ProfileBudget } from './domain/profile-budget';
import { ProfileFolder } from './domain/profile-fold';
import { newProfile, toProto, type ProfileDoc } from './domain/profile-model';
import { ProfileWriteBehind, type ProfileChange } from './profile-writer';
import { ENRICHMENT_TOKENS } from './tokens';

const traitsOmitted = counter(
  'kairos_enriched_traits_omitted_total',
  'Enriched events whose profile snapshot left traits out to stay within the size bound',
);

/** NATS's default max_payload, for a connection that has not told its server's yet. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Room left in a message for its headers (msg id, schema, trace context). */
const HEADER_ROOM = 8 * 1024;

/**
 * The hot path: applies a raw event to its customer's profile (idempotently), recomputes the
 * journey stage and publishes the event with the profile snapshot to `events.enriched.<p>...`.
 * Called by the partition's `ordered-batch` ConsumeLoop, so per-customer order holds and each
 * publish runs inside its own message's consumer span.
 */
@injectable()
export class Enricher {
  constructor(
    @inject(ProfileFolder) private readonly folder: ProfileFolder,
    @inject(ProfileWriteBehind) private readonly writer: ProfileWriteBehind,
    @inject(TOKENS.Publisher) private readonly publisher: Publisher,
    @inject(TOKENS.Nats) private readonly nc: NatsConnection,
    @inject(ENRICHMENT_TOKENS.Budget) private readonly budget: ProfileBudget,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  /**
   * A partition's batch, in stream order: folds every event into its customer's profile in memory,
   * publishes every event with the profile as of that event (each inside its own message's trace
   * context), and hands the changed profiles to the write-behind. The caller acks once `committed`
   * resolves, so a crash before the write is durable redelivers the events; applied event ids make
   * the redelivery a no-op for the profile.
   */
  async handleBatch(items: Array<BatchItem<events.Event>>): Promise<BatchCommit | undefined> {
    const valid: Array<BatchItem<events.Event>> = [];
    for (const item of items) {
      if (item.message.customerId && item.message.id) valid.push(item);
      // Ingest never publishes these; nothing to enrich them with.
      else
        this.logger.warn(
          { subject: item.ctx.subject, eventId: item.message.id },
          'raw event without id or customer id; dropped',
        );
    }
    if (valid.length === 0) return undefined;
    const snapshots = await this.applyAll(valid.map((i) => i.message));
    const enrichedAt = new Date(this.clock.now());
    await Promise.all(
      valid.map((item, i) => {
        const event = item.message;
        const payload = this.encode(event, snapshots[i]!, enrichedAt);
        // A duplicate is re-published under the same msg id: JetStream drops it if the first made it.
        return item.inContext(() =>
          this.publisher.publishBytes(
            subjects.enrichedEvent(partitionOfSubject(item.ctx.subject), event.category, event.type),
            SCHEMAS.EnrichedEvent.name,
            payload,
            { msgId: `enriched:${event.id}` },
          ),
        );
      }),
    );
    return { committed: this.writer.committed() };
  }

  /**
   * The enriched event, within the message size: the snapshot embeds at most `enrichedTraitsBytes`
   * of traits (the largest left out first, named in `omitted_traits`). Should the message still
   * not fit the server's max_payload (a profile whose other fields outgrew the budget), it carries
   * no traits at all; so enrichment can always publish.
   */
  private encode(event: events.Event, doc: ProfileDoc, enrichedAt: Date): Uint8Array {
    const profile: profiles.Profile = toProto(doc);
    const bounded = boundTraits(doc.traits, this.budget.enrichedTraitsBytes);
    if (bounded.omitted.length) {
      profile.traits = bounded.traits;
      profile.omittedTraits = bounded.omitted;
      traitsOmitted.inc();
    }
    const enriched: events.EnrichedEvent = { event, profile, enrichedAt };
    const payload = SCHEMAS.EnrichedEvent.type.encode(enriched).finish();
    const limit = (this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - HEADER_ROOM;
    if (payload.length <= limit) return payload;
    this.logger.warn(
      { eventId: event.id, customerId: event.customerId, bytes: payload.length, limit },
      'enriched event too large; its snapshot carries no traits',
    );
    profile.traits = {};
    profile.omittedTraits = Object.keys(doc.traits).sort();
    return SCHEMAS.EnrichedEvent.type.encode(enriched).finish();
  }

  /**
   * Applies the events in order; returns the profile as of each event (unchanged for a duplicate).
   * Each profile version still counts the events applied to it, as if written one at a time.
   */
  private async applyAll(batch: events.Event[]): Promise<ProfileDoc[]> {
    const now = new Date(this.clock.now());
    const customers = [...new Set(batch.map((e) => e.customerId))];
    const fetched = await Promise.all(customers.map((c) => this.writer.current(c)));
    // An outcome may have changed a profile while this batch read (no await from here on).
    const before = customers.map((c, i) => this.writer.unwrittenProfile(c) ?? fetched[i]);
    const current = new Map(customers.map((c, i) => [c, before[i]]));
    const applied = new Map<string, ProfileChange[]>();
    const snapshots: ProfileDoc[] = [];
    for (const event of batch) {
      const previous = current.get(event.customerId);
      const next = this.folder.apply(previous, event, now);
      if (!next) {
        snapshots.push(previous ?? newProfile(event.customerId, now));
        continue;
      }
      current.set(event.customerId, next);
      let changes = applied.get(event.customerId);
      if (!changes) applied.set(event.customerId, (changes = []));
      changes.push(this.writer.eventChange(event));
      snapshots.push(next);
    }
    customers.forEach((c, i) => {
      const changes = applied.get(c);
      if (changes) this.writer.record(before[i], current.get(c)!, changes);
    });
    return snapshots;
  }
}
