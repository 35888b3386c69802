import { jetstreamManager } from '@nats-io/jetstream';
import { STREAMS } from '@kairos/contracts';
import type { NatsConnection } from '@kairos/messaging';

/** Messages not yet acked by every durable consumer of the mesh's streams, with the furthest behind. */
export async function meshBacklog(nc: NatsConnection): Promise<{ total: number; behind: string[] }> {
  const jsm = await jetstreamManager(nc, { timeout: 5_000 });
  const behind: Array<[string, number]> = [];
  for (const stream of [STREAMS.EVENTS.name, STREAMS.TRIGGERS.name, STREAMS.ACTIONS.name]) {
    for await (const c of jsm.consumers.list(stream)) {
      const n = c.num_pending + c.num_ack_pending;
      if (n > 0 && c.config.durable_name) behind.push([c.name, n]);
    }
  }
  behind.sort((a, b) => b[1] - a[1]);
  return {
    total: behind.reduce((s, [, n]) => s + n, 0),
    behind: behind.slice(0, 3).map(([c, n]) => `${c} ${n}`),
  };
}
