import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  consumerSpec,
  filters,
  partitionDurable,
  SCHEMAS,
  STREAMS,
  type ConsumerSpec,
  type events,
} from '@kairos/contracts';
import { ConsumeLoop, type Handler } from './consumer';
import type { Logger } from './logger';
import { isNotFound } from './provision';
import type { Publisher } from './publisher';

/** The durable consumer a partition owner restarts at its checkpoint. */
export interface DurableRef {
  stream: string;
  durable: string;
}

/**
 * Deletes a durable consumer when it exists. A service whose checkpoint is the source of truth
 * (pattern-detection, prediction) deletes its partition's consumer at start and recreates it at
 * the checkpoint's next sequence: acks only pace the consumer.
 */
export async function deleteConsumer(nc: NatsConnection, ref: DurableRef): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.consumers.delete(ref.stream, ref.durable);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * The ordered consume loop of one partition of `events.enriched` for a service whose engine state
 * (its checkpoint) is the source of truth: the durable `<service>-pNN` is deleted and recreated at
 * `startSequence` (the checkpoint's next sequence; 1 without one), so the engine folds each event
 * after its checkpoint once and acks only pace the consumer. The loop is not started.
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
  },
): Promise<{ loop: ConsumeLoop<events.EnrichedEvent>; spec: ConsumerSpec }> {
  const spec = consumerSpec(
    STREAMS.EVENTS.name,
    partitionDurable(opts.service, opts.partition),
    filters.enrichedPartition(opts.partition),
    { startSequence: opts.startSequence },
  );
  await deleteConsumer(nc, spec);
  const loop = new ConsumeLoop(nc, {
    spec,
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
