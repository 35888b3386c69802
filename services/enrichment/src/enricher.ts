import { inject, injectable } from '@kairos/service-kit';
import { events, partitionOfSubject, SCHEMAS, subjects } from '@kairos/contracts';
import type { BatchCommit, BatchItem, Publisher } from '@kairos/messaging';
import { TOKENS, type Clock, type Logger } from '@kairos/service-kit';
import { ProfileFolder } from './profile-fold';
import { newProfile, toProto, type ProfileDoc } from './profile-model';
import { ProfileWriteBehind, type ProfileChange } from './profile-writer';

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
        const enriched: events.EnrichedEvent = { event, profile: toProto(snapshots[i]!), enrichedAt };
        // A duplicate is re-published under the same msg id: JetStream drops it if the first made it.
        return item.inContext(() =>
          this.publisher.publish(
            subjects.enrichedEvent(partitionOfSubject(item.ctx.subject), event.category, event.type),
            SCHEMAS.EnrichedEvent,
            enriched,
            { msgId: `enriched:${event.id}` },
          ),
        );
      }),
    );
    return { committed: this.writer.committed() };
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
