import type { NatsConnection } from '@nats-io/nats-core';
import type { ConsumerSpec, events, ProvisionMode } from '@kairos/contracts';
import type { ConsumeLoop, MessageContext } from './consumer';
import type { Logger } from './logger';
import { consumerCaughtUp, enrichedPartitionLoop } from './partition-replay';
import type { Publisher } from './publisher';

/** A partition's engine whose checkpoint is the source of truth (pattern-detection, prediction). */
export interface CheckpointedWorker {
  readonly partition: number;
  /** True once its consumer has delivered everything present at start. */
  readonly caughtUp: boolean;
  markCaughtUp(): void;
  handle(event: events.EnrichedEvent, ctx: MessageContext): Promise<void>;
  /** Waits for queued work and writes a final checkpoint. */
  close(): Promise<void>;
}

/** How CheckpointedPartitions.start opens the partitions a replica owns. */
export interface CheckpointedPartitionsOptions<W> {
  /** The service name, which names the durables (`<service>-pNN`). */
  service: string;
  partitions: number[];
  /** The partition's worker, restored from its checkpoint, and the stream sequence to replay from. */
  open(partition: number): Promise<{ worker: W; startSequence: number }>;
  logger: Logger;
  publisher: Publisher;
  /** `self` (default) or `external`: bind to the provisioned consumers (see enrichedPartitionLoop). */
  provision?: ProvisionMode;
}

/**
 * One checkpointed worker per owned partition, each fed by its own ordered loop over
 * `events.enriched.<p>.>` from its checkpoint's next sequence (see enrichedPartitionLoop).
 */
export class CheckpointedPartitions<W extends CheckpointedWorker> {
  /** The workers by partition. */
  readonly workers = new Map<number, W>();
  private readonly loops: Array<{ worker: W; loop: ConsumeLoop<events.EnrichedEvent>; spec: ConsumerSpec }> =
    [];

  private constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {}

  /** Opens every partition's worker, then starts the loops once all are restored. */
  static async start<W extends CheckpointedWorker>(
    nc: NatsConnection,
    opts: CheckpointedPartitionsOptions<W>,
  ): Promise<CheckpointedPartitions<W>> {
    const out = new CheckpointedPartitions<W>(nc, opts.logger);
    for (const p of opts.partitions) {
      const { worker, startSequence } = await opts.open(p);
      const { loop, spec } = await enrichedPartitionLoop(nc, {
        service: opts.service,
        partition: p,
        startSequence,
        provision: opts.provision,
        handler: (m, ctx) => worker.handle(m, ctx),
        logger: opts.logger,
        publisher: opts.publisher,
      });
      out.workers.set(p, worker);
      out.loops.push({ worker, loop, spec });
    }
    for (const { loop } of out.loops) await loop.start();
    return out;
  }

  /** The input consumers of one partition (an erase command waits for them to catch up). */
  inputsOf(partition: number): ConsumerSpec[] {
    return this.loops.filter(({ worker }) => worker.partition === partition).map(({ spec }) => spec);
  }

  /**
   * One timer round: each worker not yet caught up is marked so once its consumer has delivered the
   * backlog (work on wall-clock time waits for the replay), then `fn` runs on it. A partition that
   * fails is logged with `failure` and the others go on.
   */
  async round(failure: string, fn: (worker: W) => Promise<void>): Promise<void> {
    for (const { worker, spec } of this.loops) {
      try {
        if (!worker.caughtUp && (await consumerCaughtUp(this.nc, spec))) worker.markCaughtUp();
        await fn(worker);
      } catch (err) {
        this.logger.warn({ partition: worker.partition, err: (err as Error).message }, failure);
      }
    }
  }

  /** Drains every loop (in-flight events finish and are acked), then closes every worker. */
  async stop(): Promise<void> {
    await Promise.all(this.loops.map(({ loop }) => loop.drain()));
    await Promise.all([...this.workers.values()].map((w) => w.close()));
  }
}
