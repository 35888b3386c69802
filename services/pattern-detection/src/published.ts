import type { NatsConnection } from '@nats-io/nats-core';
import { filters, HEADERS, STREAMS } from '@kairos/contracts';
import { scanStream } from '@kairos/messaging';

/**
 * Ids (Nats-Msg-Id) of the fires already stored for a partition since `sinceMs`. Read at restore, so a
 * replay skips fires published between the checkpoint and a crash even when the restart comes after
 * the stream's 2-minute duplicate window. Headers only.
 */
export async function publishedFireIds(
  nc: NatsConnection,
  partition: number,
  sinceMs: number,
): Promise<Set<string>> {
  const ids = new Set<string>();
  const scan = scanStream(nc, {
    stream: STREAMS.TRIGGERS.name,
    filter: filters.firedPartition(partition),
    sinceMs: Math.max(0, sinceMs),
    headersOnly: true,
  });
  for await (const m of scan) {
    const id = m.headers?.get(HEADERS.msgId);
    if (id) ids.add(id);
  }
  return ids;
}
