import { randomUUID } from 'node:crypto';
import type { Logger } from '@kairos/messaging';
import type { Clock } from '@kairos/service-kit';
import { counter } from '@kairos/telemetry';
import type { TimerDoc, TimerStore } from './store';

const fired = counter('kairos_orchestration_timers_fired_total', 'Durable timers fired', ['kind', 'result']);

export interface TimerLoopOptions {
  partitions: number[];
  pollMs: number;
  leaseMs: number;
  /** Timers handled at once. */
  concurrency?: number;
  /** Attempts after which a failing timer is given up (default 10). */
  maxAttempts?: number;
  /** Called when a timer is given up (the engine fails its run visibly). */
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

  constructor(
    private readonly store: TimerStore,
    private readonly fire: (t: TimerDoc) => Promise<void>,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly opts: TimerLoopOptions,
  ) {}

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
      try {
        const batch: Promise<void>[] = [];
        for (let i = 0; i < (this.opts.concurrency ?? 8); i++) {
          const t = await this.store.claimDue(
            this.opts.partitions,
            this.clock.now(),
            this.opts.leaseMs,
            this.owner,
          );
          if (!t) break;
          batch.push(this.fireOne(t));
        }
        busy = batch.length > 0;
        await Promise.all(batch);
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'timer poll failed; retrying');
      }
      if (!busy && !this.stopping)
        await new Promise<void>((r) => {
          const t = setTimeout(r, this.opts.pollMs);
          this.wake = () => {
            clearTimeout(t);
            r();
          };
        });
    }
  }

  private async fireOne(t: TimerDoc): Promise<void> {
    try {
      await this.fire(t);
      await this.store.complete(t);
      fired.inc({ kind: t.kind, result: 'ok' });
    } catch (err) {
      fired.inc({ kind: t.kind, result: 'error' });
      const error = (err as Error).message;
      if (t.attempts < (this.opts.maxAttempts ?? 10)) {
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
