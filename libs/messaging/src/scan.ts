import type { NatsConnection } from '@nats-io/nats-core';
import { DeliverPolicy, jetstream, type JsMsg } from '@nats-io/jetstream';

export interface ScanOptions {
  stream: string;
  filter: string;
  /** Only messages stored at or after this time (epoch ms); all when omitted. */
  sinceMs?: number;
  /** Deliver headers without payloads (enough to read message ids). */
  headersOnly?: boolean;
}

/**
 * Reads the messages stored under `filter` (an ephemeral ordered consumer), from the start or from
 * `sinceMs`, up to the last one stored when the scan began; for inspection tools, restores and tests,
 * not hot paths.
 */
export async function* scanStream(nc: NatsConnection, opts: ScanOptions): AsyncGenerator<JsMsg> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(opts.stream, {
    // One filter as a string: the create request then names it in its subject, which NATS
    // permissions can limit (`$JS.API.CONSUMER.CREATE.<stream>.*.<filter>`).
    filter_subjects: opts.filter,
    headers_only: opts.headersOnly ?? false,
    ...(opts.sinceMs === undefined
      ? { deliver_policy: DeliverPolicy.All }
      : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(opts.sinceMs).toISOString() }),
  });
  try {
    let remaining = (await consumer.info(true)).num_pending;
    if (remaining === 0) return;
    const messages = await consumer.consume();
    for await (const m of messages) {
      yield m;
      if (--remaining <= 0) break;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}

/**
 * The `Nats-Msg-Id` of every message stored under `filter` since `sinceMs`, read headers only. A
 * service that replays its input after a crash reads them at restore and skips the outputs already
 * stored, however long the restart took (JetStream's own de-duplication lasts its window only).
 */
export async function storedMessageIds(
  nc: NatsConnection,
  opts: { stream: string; filter: string; sinceMs: number },
): Promise<Set<string>> {
  const ids = new Set<string>();
  const scan = scanStream(nc, { ...opts, sinceMs: Math.max(0, opts.sinceMs), headersOnly: true });
  for await (const m of scan) {
    const id = m.headers?.get('Nats-Msg-Id');
    if (id) ids.add(id);
  }
  return ids;
}
