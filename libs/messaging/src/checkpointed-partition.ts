import type { events } from '@kairos/contracts';
import type { MessageContext } from './consumer';
import type { Logger } from './logger';
import type { CheckpointedWorker } from './partition-workers';

/**
 * The exactly-once discipline of one partition's engine whose checkpoint is the source of truth
 * (pattern-detection's detector, prediction's predictor):
 * - all work on the engine runs one operation at a time (`serialize`);
 * - events are folded in stream order; `lastSequence` is the last folded stream sequence, and a
 *   redelivery at or below it is not folded again (the outputs still pending for it are
 *   published instead);
 * - an event's outputs are published, with deterministic ids, before the next event is folded;
 * - a checkpoint (engine state + `lastSequence`) is written only when no output waits to be
 *   published, so restoring it and replaying after its sequence loses nothing.
 * A subclass folds an event into its outputs, publishes outputs and saves its checkpoint.
 */
export abstract class CheckpointedPartition<Out> implements CheckpointedWorker {
  lastSequence = 0;
  /** True once the consumer has delivered the backlog present at start (the replay is over). */
  caughtUp = false;
  /** Outputs not yet published, and the stream sequence of the event that decided them. */
  protected pending: { sequence: number; outputs: Out[] } | undefined;
  /** Whether the engine changed since the last checkpoint. */
  protected dirty = false;
  protected eventsSinceCheckpoint = 0;
  protected lastCheckpointAt: number;
  /** Output ids stored since the restored checkpoint: not published again during the replay. */
  protected alreadyPublished = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly partition: number,
    protected readonly clock: { now(): number },
    protected readonly logger: Logger,
    private readonly checkpointPolicy: { events: number; intervalMs: number },
  ) {
    this.lastCheckpointAt = clock.now();
  }

  /** Folds one event into the engine and returns what it decided to publish. */
  protected abstract fold(event: events.EnrichedEvent, sequence: number): Out[];

  /** Publishes outputs in order; an id in `alreadyPublished` is not published again. */
  protected abstract publishAll(outputs: Out[]): Promise<void>;

  /** Writes the engine state with `lastSequence`. */
  protected abstract saveCheckpoint(): Promise<void>;

  /** The backlog present at start has been folded: the replay is over. */
  markCaughtUp(): void {
    this.caughtUp = true;
    this.alreadyPublished = new Set();
  }

  /** Runs `fn` after every earlier engine operation of this partition. */
  protected serialize<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  handle(event: events.EnrichedEvent, ctx: MessageContext): Promise<void> {
    return this.serialize(async () => {
      const seq = ctx.streamSequence;
      if (seq <= this.lastSequence) {
        // A redelivery (a retry after a failed publish, or a recreated consumer): never fold twice.
        if (this.pending?.sequence === seq) await this.publishPending();
        return;
      }
      // Outputs of an earlier event whose message was dead-lettered while NATS refused publishes.
      await this.publishPending();
      const outputs = this.fold(event, seq);
      this.lastSequence = seq;
      this.dirty = true;
      this.eventsSinceCheckpoint++;
      this.pending = { sequence: seq, outputs };
      await this.publishPending();
      if (this.eventsSinceCheckpoint >= this.checkpointPolicy.events) await this.checkpointNow();
    });
  }

  protected async publishPending(): Promise<void> {
    const pending = this.pending;
    if (!pending) return;
    await this.publishAll(pending.outputs);
    this.pending = undefined;
  }

  /** Whether a checkpoint may be written now: nothing waits to be published. */
  protected canCheckpoint(): boolean {
    return !this.pending;
  }

  /** Writes a checkpoint when the engine changed and the checkpoint interval has passed. */
  protected async checkpointIfDue(): Promise<void> {
    if (this.dirty && this.clock.now() - this.lastCheckpointAt >= this.checkpointPolicy.intervalMs) {
      await this.checkpointNow();
    }
  }

  /** Writes a checkpoint now, after queued work (skipped while an output awaits publishing). */
  checkpoint(): Promise<void> {
    return this.serialize(() => this.checkpointNow());
  }

  protected async checkpointNow(): Promise<void> {
    if (!this.canCheckpoint()) return;
    await this.saveCheckpoint();
    this.dirty = false;
    this.eventsSinceCheckpoint = 0;
    this.lastCheckpointAt = this.clock.now();
  }

  /** Waits for queued work, then writes a final checkpoint (drain). */
  async close(): Promise<void> {
    await this.checkpoint().catch((err: unknown) =>
      this.logger.warn({ partition: this.partition, err: (err as Error).message }, 'final checkpoint failed'),
    );
  }
}
