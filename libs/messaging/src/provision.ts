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
import { ALL_STREAMS, type ConsumerSpec, type ProvisionMode, type StreamSpec } from '@kairos/contracts';
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

/**
 * The differences between a consumer's configuration on the server and `spec` that change what
 * the service sees (filter, attempts, ack wait), one line each; empty when it matches.
 */
export function consumerDrift(actual: Partial<ConsumerConfig>, spec: ConsumerSpec): string[] {
  const want = consumerConfig(spec);
  const drift: string[] = [];
  const check = (field: keyof ConsumerConfig) => {
    if (actual[field] !== want[field])
      drift.push(`${field} is ${String(actual[field])}, the service expects ${String(want[field])}`);
  };
  check('filter_subject');
  check('ack_policy');
  check('max_deliver');
  check('ack_wait');
  return drift;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Binds to a durable consumer the provisioning Job created (`KAIROS_PROVISION=external`): resolves
 * once it exists, asking every `retryMs` while it does not (a service may start before the Job
 * finished), and throws when its configuration differs from `spec` (the Job ran with other
 * settings). Needs only `$JS.API.CONSUMER.INFO` on the consumer.
 */
export async function bindConsumer(
  nc: NatsConnection,
  spec: ConsumerSpec,
  opts: { logger?: Logger; retryMs?: number; stopped?: () => boolean } = {},
): Promise<void> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const info = await whenProvisioned(`consumer ${spec.stream}/${spec.durable}`, opts, () =>
    jsm.consumers.info(spec.stream, spec.durable),
  );
  const drift = consumerDrift(info.config, spec);
  if (drift.length)
    throw new Error(
      `consumer ${spec.stream}/${spec.durable} differs from this service's settings (${drift.join('; ')}): run the provisioning Job with the same settings`,
    );
}

/**
 * Runs `lookup` until what it looks up exists: a service started next to the provisioning Job
 * (the charts' dev mode) waits for it, logging now and then, instead of failing its start.
 */
async function whenProvisioned<T>(
  what: string,
  opts: { logger?: Logger; retryMs?: number; stopped?: () => boolean },
  lookup: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await lookup();
    } catch (err) {
      if (!isNotFound(err) || opts.stopped?.()) throw err;
      if (attempt === 1 || attempt % 20 === 0)
        opts.logger?.warn(
          { what },
          `${what} not provisioned yet (KAIROS_PROVISION=external); waiting for it`,
        );
      await delay(opts.retryMs ?? 500);
    }
  }
}

/** Creates or updates the consumer (`self`), or binds to the provisioned one (`external`). */
export function prepareConsumer(
  nc: NatsConnection,
  spec: ConsumerSpec,
  mode: ProvisionMode,
  opts: { logger?: Logger; stopped?: () => boolean } = {},
): Promise<void> {
  return mode === 'external' ? bindConsumer(nc, spec, opts) : ensureConsumer(nc, spec);
}

/**
 * Moves a durable consumer's next delivery to stream sequence `sequence` and forgets its pending
 * and redelivery state (`$JS.API.CONSUMER.RESET`, nats-server 2.14 or later). Unlike deleting and
 * recreating it, this needs no consumer admin rights: only the reset subject of that consumer.
 */
export async function resetConsumer(
  nc: NatsConnection,
  ref: { stream: string; durable: string },
  sequence: number,
  timeoutMs = 5_000,
): Promise<void> {
  const reply = await nc.request(
    `$JS.API.CONSUMER.RESET.${ref.stream}.${ref.durable}`,
    JSON.stringify({ seq: Math.max(1, sequence) }),
    { timeout: timeoutMs },
  );
  const body = reply.json<{ error?: { code?: number; description?: string } }>();
  if (body.error)
    throw Object.assign(
      new Error(
        `cannot reset consumer ${ref.stream}/${ref.durable} to ${sequence}: ${body.error.description}`,
      ),
      { code: body.error.code },
    );
}

/**
 * Moves an existing durable consumer so its next delivery is stream sequence `sequence`: a reset
 * (`resetConsumer`), which a least-privilege user may do on its own consumers. Under `self`, a
 * consumer the reset refuses (a server before 2.14, or a consumer created by start sequence asked
 * to go below it) is deleted and recreated there instead; under `external` the refusal is thrown.
 */
export async function moveConsumerTo(
  nc: NatsConnection,
  spec: ConsumerSpec,
  sequence: number,
  mode: ProvisionMode,
  logger?: Logger,
): Promise<void> {
  try {
    await resetConsumer(nc, spec, sequence);
  } catch (err) {
    if (mode === 'external') throw err;
    logger?.warn(
      { consumer: spec.durable, err: (err as Error).message },
      'consumer reset refused; recreating it at the sequence',
    );
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.consumers.delete(spec.stream, spec.durable);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    await ensureConsumer(jsm, { ...spec, startSequence: sequence });
  }
}

/**
 * Opens a KV bucket: creates it with the given history when missing (`self`, the default), or
 * binds to the provisioned one (`external`, needing only read rights on its stream; it waits
 * while the bucket does not exist yet).
 */
export async function ensureKv(
  nc: NatsConnection,
  bucket: string,
  opts: { history?: number; replicas?: number; provision?: ProvisionMode; logger?: Logger } = {},
): Promise<KV> {
  const kvm = new Kvm(nc);
  if (opts.provision === 'external')
    return whenProvisioned(`KV bucket ${bucket}`, opts, async () => {
      const kv = await kvm.open(bucket);
      await kv.status(); // open() binds lazily; this asks for the bucket's stream
      return kv;
    });
  return kvm.create(bucket, { history: opts.history ?? 1, replicas: opts.replicas ?? 1 });
}

export function isNotFound(err: unknown): boolean {
  const e = err as { message?: string; code?: number; api_error?: { code?: number } };
  return e?.api_error?.code === 404 || e?.code === 404 || /not found/i.test(e?.message ?? '');
}
