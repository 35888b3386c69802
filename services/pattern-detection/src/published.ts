import type { NatsConnection } from '@nats-io/nats-core';
import { filters, STREAMS } from '@kairos/contracts';
import { storedMessageIds } from '@kairos/messaging';

/**
 * Ids (Nats-Msg-Id) of the fires already stored for a partition since `sinceMs`. Read at restore, so a
 * replay skips fires published between the checkpoint and a crash even when the restart comes after
 * the stream's 2-minute duplicate window. Headers only.
 */
export function publishedFireIds(
  nc: NatsConnection,
  partition: number,
  sinceMs: number,
): Promise<Set<string>> {
  return storedMessageIds(nc, {
    stream: STREAMS.TRIGGERS.name,
    filter: filters.firedPartition(partition),
    sinceMs,
  });
}
