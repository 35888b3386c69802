import { BSON, MongoError } from 'mongodb';
import { inject, injectable, TOKENS, type Clock, type Logger } from '@kairos/service-kit';
import type { events } from '@kairos/contracts';
import { counter, latencyHistogram } from '@kairos/telemetry';
import { ProfileFolder } from './domain/profile-fold';
import type { ProfileDoc } from './domain/profile-model';
import { ProfileStore } from './profile-store';
import { TimeEventScheduler } from './time-events';
import { ENRICHMENT_TOKENS } from './tokens';

/** One change to a profile: the next profile, or undefined when it changes nothing. */
export type ProfileChange = (current: ProfileDoc | undefined, now: Date) => ProfileDoc | undefined;

/** A profile changed in memory and not yet written. */
interface Unwritten {
  /** What we believe is stored (the version the conditional write expects). */
  base: ProfileDoc | undefined;
  next: ProfileDoc;
  /** Changes applied on top of `base`, in order: re-applied onto the stored profile after a conflict. */
  changes: ProfileChange[];
}

interface Generation {
  entries: Map<string, Unwritten>;
  written: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function newGeneration(): Generation {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const written = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  written.catch(() => undefined); // a generation nobody waits for must not be an unhandled rejection
  return { entries: new Map(), written, resolve, reject };
}

const flushSeconds = latencyHistogram('kairos_profile_flush_seconds', 'Profile write-behind flush duration');
const profilesWritten = counter('kairos_profiles_written_total', 'Profiles written by the write-behind');
const changesWritten = counter('kairos_profile_changes_written_total', 'Changes (events, outcomes) written');
const writeConflicts = counter(
  'kairos_profile_write_conflicts_total',
  'Profiles re-read and re-applied because another writer changed them first',
);
const writesRefused = counter(
  'kairos_profile_writes_refused_total',
  'Profiles whose changes were dropped because the database refused their document',
);
/** A flush slower than this is logged with where its time went. */
const SLOW_FLUSH_MS = 2_000;

const RETRY_DELAYS_MS = [50, 200, 1_000, 5_000];

/**
 * Server codes of a document refused for what it holds: BadValue (FerretDB's invalid field name),
 * Overflow (MongoDB's nesting too deep), DollarPrefixedFieldName, DottedFieldName, BSONObjectTooLarge.
 */
const REFUSED_DOCUMENT_CODES = new Set([2, 15, 52, 57, 10334]);

/**
 * Whether the database (or the driver encoding it) refused a document for its content: retrying it
 * fails the same way. Timeouts, lost connections and the like are not.
 */
function isRefusedDocument(err: unknown): boolean {
  if (BSON.BSONError.isBSONError(err)) return true;
  if (!(err instanceof MongoError)) return false;
  const codes = [
    err.code,
    ...((err as { writeErrors?: Array<{ code?: number }> }).writeErrors ?? []).map((e) => e.code),
  ];
  return codes.some((c) => typeof c === 'number' && REFUSED_DOCUMENT_CODES.has(c));
}
/** Profiles whose time-based occurrences are rescheduled at once after a flush. */
const SYNC_CONCURRENCY = 16;

/**
 * Write-behind for the event hot path. Enrichment folds events into profiles in memory, publishes
 * them at once, and this writes every changed profile once per flush (one bulk write, conditional
 * on the stored version), however many events touched it meanwhile. Customers come in sessions, so
 * a flush covering a second of traffic writes several times fewer documents than one write per
 * event; the database (FerretDB's single SQLite writer) is the mesh's bottleneck. Callers ack their
 * events only after `committed()` resolves, so a crash loses nothing: unacked events are redelivered
 * and applied again onto the stored profile (applied event ids make that idempotent).
 *
 * A flush runs `intervalMs` after the first change it covers; changes made while one runs go into
 * the next, so under load flushes grow and coalesce more. A conflict (a gRPC upsert or an outcome
 * wrote meanwhile) re-reads the stored profiles and re-applies the flush's events onto them.
 */
@injectable()
export class ProfileWriteBehind {
  private open: Generation = newGeneration();
  private flushing?: Generation;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    @inject(ProfileStore) private readonly store: ProfileStore,
    @inject(ProfileFolder) private readonly folder: ProfileFolder,
    @inject(TimeEventScheduler) private readonly scheduler: TimeEventScheduler,
    @inject(ENRICHMENT_TOKENS.FlushIntervalMs) private readonly intervalMs: number,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  /** The customer's profile with changes not yet written, if it has any. */
  unwrittenProfile(customerId: string): ProfileDoc | undefined {
    return this.open.entries.get(customerId)?.next ?? this.flushing?.entries.get(customerId)?.next;
  }

  /** The customer's newest profile: unwritten changes first, then the store. */
  async current(customerId: string): Promise<ProfileDoc | undefined> {
    return this.unwrittenProfile(customerId) ?? (await this.store.getForWrite(customerId));
  }

  /**
   * Records `next` as the customer's profile after `changes`, made on top of `before`, which must be
   * what `current` returns now (callers re-check `unwrittenProfile` after their last await).
   */
  record(before: ProfileDoc | undefined, next: ProfileDoc, changes: ProfileChange[]): void {
    const entry = this.open.entries.get(next._id);
    if (entry) {
      entry.next = next;
      entry.changes.push(...changes);
    } else {
      this.open.entries.set(next._id, { base: before, next, changes: [...changes] });
    }
    this.schedule();
  }

  /** The event folded in as a change (re-applied after a conflict; a no-op once counted). */
  eventChange(event: events.Event): ProfileChange {
    return (current, now) => this.folder.apply(current, event, now);
  }

  /**
   * Applies a change other than an event (an outcome's history entry) through the write-behind, so
   * it does not conflict with the customer's unwritten events; resolves once written.
   */
  async apply(customerId: string, change: ProfileChange): Promise<void> {
    await this.stage(customerId, change);
    await this.committed();
  }

  /** As `apply`, but resolves once the change is recorded; `committed()` tells when it is written. */
  async stage(customerId: string, change: ProfileChange): Promise<void> {
    const fetched = await this.current(customerId);
    const before = this.unwrittenProfile(customerId) ?? fetched;
    const next = change(before, new Date(this.clock.now()));
    if (next) this.record(before, next, [change]);
  }

  /** Resolves once every change recorded so far is written. */
  committed(): Promise<void> {
    if (this.open.entries.size > 0) return this.open.written;
    return this.flushing?.written ?? Promise.resolve();
  }

  get unwritten(): number {
    return this.open.entries.size + (this.flushing?.entries.size ?? 0);
  }

  /** Writes every change recorded so far now, without waiting for the interval. */
  async flushNow(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running) await this.running;
    if (this.open.entries.size > 0) await this.startFlush();
  }

  /** Writes what is left and stops; a write that still fails after its retries is given up. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.flushNow();
  }

  private schedule(): void {
    if (this.timer || this.running || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.startFlush();
    }, this.intervalMs);
  }

  /** One flush at a time; the next is scheduled when changes arrived meanwhile. */
  private startFlush(): Promise<void> {
    this.running = this.flush()
      // Only a stopping writer gives up (its generation's waiters see the error).
      .catch((err) => this.logger.error({ err: (err as Error).message }, 'profile write abandoned'))
      .finally(() => {
        this.running = undefined;
        if (this.open.entries.size > 0) this.schedule();
      });
    return this.running;
  }

  private async flush(): Promise<void> {
    const generation = this.open;
    this.open = newGeneration();
    this.flushing = generation;
    const started = process.hrtime.bigint();
    const elapsedMs = () => Number(process.hrtime.bigint() - started) / 1e6;
    let conflicts = 0;
    try {
      let toWrite = [...generation.entries.keys()];
      for (let attempt = 0; toWrite.length > 0; attempt++) {
        try {
          const changes = toWrite
            .map((id) => generation.entries.get(id)!)
            .map((e) => ({ next: e.next, previous: e.base }));
          const conflicted = await this.store.saveMany(changes);
          conflicts += conflicted.size;
          writeConflicts.inc({}, conflicted.size);
          toWrite = [...conflicted];
          if (toWrite.length) await this.rebase(generation.entries, toWrite);
          toWrite = toWrite.filter((id) => generation.entries.has(id));
        } catch (err) {
          if (isRefusedDocument(err)) {
            try {
              const conflicted = await this.writeEach(generation.entries, toWrite);
              conflicts += conflicted.length;
              writeConflicts.inc({}, conflicted.length);
              if (conflicted.length) await this.rebase(generation.entries, conflicted);
              toWrite = conflicted.filter((id) => generation.entries.has(id));
              continue;
            } catch {
              // A failure of another kind: everything left is retried with backoff below (the
              // profiles written meanwhile conflict with themselves and are found written).
            }
          }
          if (this.stopped && attempt >= RETRY_DELAYS_MS.length) throw err;
          const wait = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]!;
          this.logger.warn(
            { profiles: toWrite.length, attempt, err: (err as Error).message, retryInMs: wait },
            'profile write failed; retrying',
          );
          await new Promise((r) => setTimeout(r, wait));
        }
      }
      const savedMs = elapsedMs();
      const moved = [...generation.entries.values()].filter((e) =>
        TimeEventScheduler.affects(e.base, e.next),
      );
      for (let i = 0; i < moved.length; i += SYNC_CONCURRENCY)
        await Promise.all(
          moved.slice(i, i + SYNC_CONCURRENCY).map((e) => this.scheduler.syncProfile(e.next, e.base)),
        );
      const totalMs = elapsedMs();
      flushSeconds.observe({}, totalMs / 1000);
      if (totalMs > SLOW_FLUSH_MS)
        this.logger.warn(
          {
            profiles: generation.entries.size,
            conflicts,
            saveMs: Math.round(savedMs),
            occurrencesMoved: moved.length,
            occurrencesMs: Math.round(totalMs - savedMs),
          },
          'slow profile flush',
        );
      profilesWritten.inc({}, generation.entries.size);
      let changes = 0;
      for (const e of generation.entries.values()) changes += e.changes.length;
      changesWritten.inc({}, changes);
      generation.resolve();
    } catch (err) {
      generation.reject(err as Error);
      throw err;
    } finally {
      this.flushing = undefined;
    }
  }

  /**
   * After a bulk write was refused for a document's content, which every retry would repeat while
   * holding back all the profiles of the flush: writes the profiles one at a time, and drops the
   * changes of each whose own write is refused (logged, counted; its events were already published
   * enriched and are acked). Returns the customers whose write conflicted.
   */
  private async writeEach(entries: Map<string, Unwritten>, customerIds: string[]): Promise<string[]> {
    const conflicted: string[] = [];
    for (const customerId of customerIds) {
      const entry = entries.get(customerId)!;
      try {
        const missed = await this.store.saveMany([{ next: entry.next, previous: entry.base }]);
        if (missed.size) conflicted.push(customerId);
      } catch (err) {
        if (!isRefusedDocument(err)) throw err;
        entries.delete(customerId);
        writesRefused.inc();
        this.logger.error(
          { customerId, changes: entry.changes.length, err: (err as Error).message },
          'profile write refused by the database; its changes are dropped',
        );
      }
    }
    return conflicted;
  }

  /** After a conflict: re-applies the profiles' changes onto what is stored now. */
  private async rebase(entries: Map<string, Unwritten>, customerIds: string[]): Promise<void> {
    const now = new Date(this.clock.now());
    for (const customerId of customerIds) {
      const entry = entries.get(customerId)!;
      const stored = await this.store.getForWrite(customerId);
      let next = stored;
      for (const change of entry.changes) next = change(next, now) ?? next;
      // Every change is already there (an earlier attempt landed): nothing left to write.
      if (!next || next === stored) entries.delete(customerId);
      else Object.assign(entry, { base: stored, next });
    }
  }
}
