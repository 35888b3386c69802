import type { JsMsg } from '@nats-io/jetstream';
import { scanStream, type NatsConnection } from '@kairos/messaging';
import { waitFor } from '@kairos/testkit';

/** Reads every message stored under `filter` in `stream` until `predicate` holds over them. */
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
      items = [];
      for await (const m of scanStream(nc, { stream, filter })) items.push(decode(m));
      return predicate(items);
    },
    { timeoutMs, intervalMs: 250, message: `messages on ${filter} in ${stream}` },
  );
  return items;
}
