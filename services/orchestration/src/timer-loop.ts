import { randomUUID } from 'node:crypto';
import type { Logger } from '@kairos/messaging';
import type { Clock } from '@kairos/service-kit';
import { counter } from '@kairos/telemetry';
import type { TimerDoc, TimerStore } from './store';

const fired = counter('kairos_orchestration_timers_fired_total', 'Durable timers fired', ['kind', 'result']);

export interface TimerLoopOptions {
  partitions: number[];
  /** Shortest wait between two looks for due timers. */
  pollMs: number;
  /**
   * Longest wait while nothing is due (default pollMs). The loop sleeps until the earliest due time
   * or lease end it knows of, or until a timer this process schedules is due, but never longer: a
   * timer another process scheduled is found within this time.
   */
  maxIdleMs?: number;
  leaseMs: number;
  /** Timers handled at once. */
  concurrency: number;
  /** Attempts after which a failing timer is given up. */
  maxAttempts: number;
  /** Called when a timer is given up (the orchestrator fails its runs visibly). */
  abandon?: (t: TimerDoc, error: string) => Promise<void>;
}

/**
 * Polls the `timers` collection for due timers of the partitions this replica owns, claims each with
 * a lease (a unique-key insert, see TimerStore.claimDue) and fires it. A timer is removed only after its handler
 * succeeded; a crash leaves it to be re-claimed when the lease ends, and handlers are idempotent.
 */
export class TimerLoop {
  readonly owner = randomUUID();
  private stopping = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  /** The earliest due time of the timers this process scheduled since the last look began. */
  private scheduledSince = Infinity;
  /** While sleeping: sets the sleep's end again (a timer was scheduled here). */
  private resleep?: () => void;

  constructor(
    private readonly store: TimerStore,
    private readonly fire: (t: TimerDoc) => Promise<void>,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly opts: TimerLoopOptions,
  ) {
    store.onScheduled((dueAt) => {
      if (dueAt >= this.scheduledSince) return;
      this.scheduledSince = dueAt;
      this.resleep?.();
    });
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let prunedAt = 0;
    while (!this.stopping) {
      let busy = false;
      if (this.clock.now() - prunedAt > 600_000) {
        prunedAt = this.clock.now();
        await this.store.pruneClaims(prunedAt - 86_400_000).catch(() => undefined);
      }
      this.scheduledSince = Infinity;
      try {
        const batch = await this.store.claimDue(
          this.opts.partitions,
          this.clock.now(),
          this.opts.leaseMs,
          this.owner,
          this.opts.concurrency,
        );
        busy = batch.length > 0;
        await Promise.all(batch.map((t) => this.fireOne(t)));
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'timer poll failed; retrying');
      }
      if (!busy && !this.stopping) await this.sleep(await this.idleUntil());
    }
  }

  /**
   * Until when to sleep with nothing to fire: the next claimable time, at least pollMs and at most
   * maxIdleMs from now. (Polling every pollMs meant a sorted scan of the whole timers collection
   * five times a second on FerretDB, whose SQLite backend uses no secondary index.)
   */
  private async idleUntil(): Promise<number> {
    const now = this.clock.now();
    const { pollMs, maxIdleMs = pollMs } = this.opts;
    if (maxIdleMs <= pollMs) return now + pollMs;
    const next = await this.store.nextClaimableAt(this.opts.partitions).catch((err: Error) => {
      this.logger.warn({ err: err.message }, 'next timer lookup failed; polling again soon');
      return now + pollMs;
    });
    return Math.min(now + maxIdleMs, Math.max(now + pollMs, next ?? Infinity));
  }

  /**
   * Sleeps until `untilMs`, or sooner when a timer scheduled here since the last look began is due
   * sooner (the lookups may have missed it), but at least pollMs from now.
   */
  private sleep(untilMs: number): Promise<void> {
    // drain() may have come while the next due time was being looked up: do not sleep then.
    if (this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const end = () => {
        clearTimeout(timer);
        this.resleep = undefined;
        this.wake = undefined;
        resolve();
      };
      this.resleep = () => {
        clearTimeout(timer);
        const now = this.clock.now();
        const at = Math.min(untilMs, Math.max(this.scheduledSince, now + this.opts.pollMs));
        timer = setTimeout(end, Math.max(0, at - now));
      };
      this.wake = end;
      this.resleep();
    });
  }

  private async fireOne(t: TimerDoc): Promise<void> {
    try {
      await this.fire(t);
      await this.store.complete(t);
      fired.inc({ kind: t.kind, result: 'ok' });
    } catch (err) {
      fired.inc({ kind: t.kind, result: 'error' });
      const error = (err as Error).message;
      if (t.attempts < this.opts.maxAttempts) {
        this.logger.error(
          { timer: t._id, attempts: t.attempts, err: error },
          'timer failed; retried after its lease',
        );
        return;
      }
      // A poison timer must not be retried forever: give it up, visibly.
      this.logger.error(
        { timer: t._id, attempts: t.attempts, err: error },
        'timer failed too often; given up',
      );
      try {
        await this.opts.abandon?.(t, error);
        await this.store.complete(t);
      } catch (abandonErr) {
        this.logger.error(
          { timer: t._id, err: (abandonErr as Error).message },
          'cannot give the timer up yet',
        );
      }
    }
  }

  /** Stops claiming and waits for timers being fired. */
  async drain(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }
}
