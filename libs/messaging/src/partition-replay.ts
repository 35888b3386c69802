import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  filters,
  partitionConsumer,
  SCHEMAS,
  STREAMS,
  type ConsumerSpec,
  type events,
  type ProvisionMode,
} from '@kairos/contracts';
import { ConsumeLoop, type Handler } from './consumer';
import type { Logger } from './logger';
import { moveConsumerTo, prepareConsumer } from './provision';
import type { Publisher } from './publisher';

/** The durable consumer a partition owner restarts at its checkpoint. */
export interface DurableRef {
  stream: string;
  durable: string;
}

/** The durable consumer of one partition of `events.enriched` for a checkpointing service. */
export function enrichedPartitionSpec(
  service: string,
  partition: number,
  startSequence?: number,
): ConsumerSpec {
  const start = startSequence === undefined ? {} : { startSequence };
  return partitionConsumer(STREAMS.EVENTS.name, service, filters.enrichedPartition, partition, start);
}

/**
 * Moves a checkpointing service's partition consumer to `startSequence`: created there when
 * missing (`self`), else reset to it with `$JS.API.CONSUMER.RESET`, which needs only that
 * consumer's reset subject, so it works with a provisioned consumer and a least-privilege user.
 * Under `self`, a consumer the reset refuses (one created before by start sequence, asked to go
 * below it) is deleted and recreated at `startSequence`.
 */
export async function restartConsumerAt(
  nc: NatsConnection,
  spec: ConsumerSpec,
  startSequence: number,
  mode: ProvisionMode,
  logger?: Logger,
): Promise<void> {
  await prepareConsumer(nc, spec, mode, { logger });
  await moveConsumerTo(nc, spec, startSequence, mode, logger);
}

/**
 * The ordered consume loop of one partition of `events.enriched` for a service whose engine state
 * (its checkpoint) is the source of truth: the durable `<service>-pNN` restarts at `startSequence`
 * (the checkpoint's next sequence; 1 without one; see restartConsumerAt), so the engine folds each
 * event after its checkpoint once and acks only pace the consumer. The loop is not started.
 */
export async function enrichedPartitionLoop(
  nc: NatsConnection,
  opts: {
    service: string;
    partition: number;
    startSequence: number;
    handler: Handler<events.EnrichedEvent>;
    logger: Logger;
    publisher: Publisher;
    /** `self` (default) or `external` (see restartConsumerAt). */
    provision?: ProvisionMode;
  },
): Promise<{ loop: ConsumeLoop<events.EnrichedEvent>; spec: ConsumerSpec }> {
  const provision = opts.provision ?? 'self';
  const spec = enrichedPartitionSpec(opts.service, opts.partition, opts.startSequence);
  await restartConsumerAt(nc, spec, opts.startSequence, provision, opts.logger);
  const loop = new ConsumeLoop(nc, {
    spec,
    provision,
    schema: SCHEMAS.EnrichedEvent,
    handler: opts.handler,
    mode: { kind: 'ordered' },
    logger: opts.logger,
    publisher: opts.publisher,
  });
  return { loop, spec };
}

/** Whether a durable consumer has delivered everything stored under its filter and had it acked. */
export async function consumerCaughtUp(nc: NatsConnection, ref: DurableRef): Promise<boolean> {
  const info = await (await jetstreamManager(nc)).consumers.info(ref.stream, ref.durable);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

/**
 * Runs `round` every `intervalMs`, never two at a time: a round still running when the next is due
 * makes that one skip. Returns the stop function. A round must catch its own errors.
 */
export function everyInterval(round: () => Promise<void>, intervalMs: number): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void round().finally(() => (running = false));
  }, intervalMs);
  return () => clearInterval(timer);
}
