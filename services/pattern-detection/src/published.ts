import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { filters, HEADERS, STREAMS } from '@kairos/contracts';
import { nanos } from '@nats-io/nats-core';

/**
 * Ids (Nats-Msg-Id) of the fires already stored for a partition since `sinceMs`. Read at restore, so a
 * replay skips fires published between the checkpoint and a crash even when the restart comes after
 * the stream's 2-minute duplicate window. Headers only, through a short-lived ephemeral consumer.
 */
export async function publishedFireIds(
  nc: NatsConnection,
  partition: number,
  sinceMs: number,
): Promise<Set<string>> {
  const ids = new Set<string>();
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.add(STREAMS.TRIGGERS.name, {
    filter_subject: filters.firedPartition(partition),
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(Math.max(0, sinceMs)).toISOString(),
    ack_policy: AckPolicy.None,
    headers_only: true,
    inactive_threshold: nanos(60_000),
  });
  try {
    let remaining = info.num_pending;
    const consumer = await jetstream(nc).consumers.get(STREAMS.TRIGGERS.name, info.name);
    while (remaining > 0) {
      const batch = await consumer.fetch({ max_messages: Math.min(remaining, 1_000), expires: 5_000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        const id = m.headers?.get(HEADERS.msgId);
        if (id) ids.add(id);
        remaining = m.info.pending;
        if (remaining === 0) break;
      }
      if (got === 0) break;
    }
  } finally {
    await jsm.consumers.delete(STREAMS.TRIGGERS.name, info.name).catch(() => undefined);
  }
  return ids;
}
