import type { NatsConnection } from '@nats-io/nats-core';
import {
  AckPolicy,
  DeliverPolicy,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { nanos } from '@nats-io/nats-core';
import { ALL_STREAMS, type ConsumerSpec, type StreamSpec } from '@kairos/contracts';
import type { Logger } from './logger';

function streamConfig(spec: StreamSpec, replicas: number): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    subjects: spec.subjects,
    description: spec.description,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    duplicate_window: nanos(spec.duplicateWindowMs),
    max_age: nanos(spec.maxAgeMs),
  };
}

/** Creates each stream, or updates it when it exists (idempotent; safe for every service at start). */
export async function provisionStreams(
  nc: NatsConnection,
  opts: { replicas?: number; logger?: Logger; streams?: StreamSpec[] } = {},
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const spec of opts.streams ?? ALL_STREAMS) {
    const cfg = streamConfig(spec, opts.replicas ?? 1);
    try {
      await jsm.streams.info(spec.name);
      await jsm.streams.update(spec.name, cfg);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await jsm.streams.add(cfg);
        opts.logger?.info({ stream: spec.name }, 'stream created');
      } catch (addErr) {
        // Another service may have created it between our info and add.
        if (!/already in use|exists/i.test((addErr as Error).message)) throw addErr;
      }
    }
  }
}

export function consumerConfig(spec: ConsumerSpec): Partial<ConsumerConfig> {
  const start: Partial<ConsumerConfig> =
    spec.startSequence !== undefined && spec.startSequence > 1
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: spec.startSequence }
      : { deliver_policy: DeliverPolicy.All };
  return {
    durable_name: spec.durable,
    ack_policy: spec.ackPolicy === 'all' ? AckPolicy.All : AckPolicy.Explicit,
    ...start,
    filter_subject: spec.filterSubject,
    // The loop dead-letters on its last attempt, so the server's limit is one above it.
    max_deliver: spec.maxDeliver + 1,
    ack_wait: nanos(spec.ackWaitMs),
    max_ack_pending: spec.maxAckPending,
  };
}

/** Creates the durable pull consumer, or updates it to the spec when it exists. */
export async function ensureConsumer(
  jsmOrNc: JetStreamManager | NatsConnection,
  spec: ConsumerSpec,
): Promise<void> {
  const jsm = 'consumers' in jsmOrNc ? jsmOrNc : await jetstreamManager(jsmOrNc);
  const cfg = consumerConfig(spec);
  try {
    const info = await jsm.consumers.info(spec.stream, spec.durable);
    if (info.config.ack_policy !== cfg.ack_policy) {
      // The server cannot change a consumer's ack policy: it is recreated where it stood. Messages
      // delivered but not acked are delivered again, as after any restart.
      await jsm.consumers.delete(spec.stream, spec.durable);
      const next = info.ack_floor.stream_seq + 1;
      await jsm.consumers.add(
        spec.stream,
        next > 1 ? { ...cfg, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: next } : cfg,
      );
      return;
    }
    const { durable_name: _d, deliver_policy: _p, opt_start_seq: _s, ...updatable } = cfg;
    await jsm.consumers.update(spec.stream, spec.durable, updatable);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(spec.stream, cfg);
  }
}

/** Opens a KV bucket, creating it with the given history when missing. */
export async function ensureKv(
  nc: NatsConnection,
  bucket: string,
  opts: { history?: number } = {},
): Promise<KV> {
  const kvm = new Kvm(nc);
  return kvm.create(bucket, { history: opts.history ?? 1 });
}

export function isNotFound(err: unknown): boolean {
  const e = err as { message?: string; code?: number; api_error?: { code?: number } };
  return e?.api_error?.code === 404 || e?.code === 404 || /not found/i.test(e?.message ?? '');
}
