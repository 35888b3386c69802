import { DeliverPolicy, jetstream, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@kairos/messaging';
import { waitFor } from '@kairos/testkit';

/**
 * Reads every message stored under `filter` in `stream` (an ordered consumer from the start) and
 * waits until `predicate` holds over them.
 */
export async function readUntil<T>(
  nc: NatsConnection,
  stream: string,
  filter: string,
  decode: (m: JsMsg) => T,
  predicate: (items: T[]) => boolean,
  timeoutMs = 30_000,
): Promise<T[]> {
  let items: T[] = [];
  await waitFor(
    async () => {
      items = await readAll(nc, stream, filter, decode);
      return predicate(items);
    },
    { timeoutMs, intervalMs: 250, message: `messages on ${filter} in ${stream}` },
  );
  return items;
}

export async function readAll<T>(
  nc: NatsConnection,
  stream: string,
  filter: string,
  decode: (m: JsMsg) => T,
): Promise<T[]> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, {
    filter_subjects: [filter],
    deliver_policy: DeliverPolicy.All,
  });
  const out: T[] = [];
  const info = await consumer.info(true);
  let remaining = info.num_pending;
  if (remaining === 0) {
    await consumer.delete().catch(() => undefined);
    return out;
  }
  const iter = await consumer.consume();
  for await (const m of iter) {
    out.push(decode(m));
    if (--remaining <= 0) break;
  }
  await consumer.delete().catch(() => undefined);
  return out;
}
