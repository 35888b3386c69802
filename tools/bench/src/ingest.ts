import { credentials, type ServiceError } from '@grpc/grpc-js';
import { events, ingest } from '@kairos/contracts';
import { startIngestInProcess } from '@kairos/ingest';

export interface IngestBenchmarkOptions {
  natsUrl: string;
  /** An ingest service already running (host:port); when omitted one is started in this process. */
  address?: string;
  /** Events per measured mode. Default 20 000. */
  events?: number;
  /** Events per TrackBatch call. Default 500. */
  batchSize?: number;
  /** TrackBatch calls (and streams) in flight at once. Default 4. */
  concurrency?: number;
}

export interface IngestBenchmarkResult {
  ingest_events_per_s: number;
  batched_events_per_s: number;
  streamed_events_per_s: number;
  table: string;
}

/** A realistic event: ~400 bytes of properties (a cart line with product details and UTM data). */
function benchEvent(runId: string, i: number, now: Date): events.Event {
  return events.Event.fromPartial({
    id: `${runId}-${i}`,
    type: 'cart.item_added',
    customerId: `customer-${i % 5000}`,
    occurredAt: now,
    properties: {
      sku: `SKU-${(i * 7919) % 100000}`,
      name: 'Trail running shoe, breathable mesh upper',
      category: 'footwear/running',
      price: 129.95,
      currency: 'EUR',
      quantity: 1 + (i % 3),
      cart_value: 259.9,
      cart_items: 2,
      page: '/products/trail-running-shoe?color=blue&size=43',
      referrer: 'https://www.example.com/search?q=running+shoes',
      utm: { source: 'newsletter', medium: 'email', campaign: 'autumn-sale-2025' },
      experiment: 'checkout-v2',
    },
    context: {
      ip: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
      locale: 'de-DE',
      appVersion: '4.12.0',
    },
  });
}

function call<T>(fn: (cb: (err: ServiceError | null, res: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));
}

/**
 * Measures events/s accepted durably (JetStream acknowledged) through TrackBatch (`concurrency`
 * batches in flight) and through client streams (`concurrency` streams). Against the ingest at
 * `address` (a separate process, as deployed) or, without one, an ingest started in this process
 * (client and server then share one core, so the numbers are conservative).
 */
export async function runIngestBenchmark(opts: IngestBenchmarkOptions): Promise<IngestBenchmarkResult> {
  const total = opts.events ?? 20_000;
  const batchSize = opts.batchSize ?? 500;
  const concurrency = opts.concurrency ?? 4;
  const service = opts.address
    ? undefined
    : await startIngestInProcess({ NATS_URL: opts.natsUrl, LOG_LEVEL: 'warn' }, { logLevel: 'warn' });
  const address = opts.address ?? service!.address;
  const client = new ingest.IngestServiceClient(address, credentials.createInsecure(), {
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  const runId = `bench-${Date.now().toString(36)}`;
  const now = new Date();
  /** Sends `list` with TrackBatch, `concurrency` calls in flight; returns the seconds it took. */
  const batched = async (list: events.Event[]): Promise<number> => {
    let next = 0;
    let accepted = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < list.length) {
          const batch = list.slice(next, next + batchSize);
          next += batch.length;
          const res = await call<ingest.TrackBatchResponse>((cb) => client.trackBatch({ events: batch }, cb));
          accepted += res.accepted;
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (accepted !== list.length) throw new Error(`TrackBatch accepted ${accepted} of ${list.length} events`);
    return seconds;
  };

  /** Sends `list` over `concurrency` client streams; returns the seconds it took. */
  const streamed = async (list: events.Event[]): Promise<number> => {
    const perStream = Math.ceil(list.length / concurrency);
    const t0 = process.hrtime.bigint();
    const responses = await Promise.all(
      Array.from({ length: concurrency }, (_, s) =>
        call<ingest.StreamResponse>((cb) => {
          const stream = client.stream(cb);
          const slice = list.slice(s * perStream, (s + 1) * perStream);
          let i = 0;
          const pump = () => {
            while (i < slice.length)
              if (!stream.write({ event: slice[i++] })) return void stream.once('drain', pump);
            stream.end();
          };
          pump();
        }),
      ),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const accepted = responses.reduce((n, r) => n + r.accepted, 0);
    if (accepted !== list.length) throw new Error(`Stream accepted ${accepted} of ${list.length} events`);
    return seconds;
  };

  const eventsOf = (prefix: string, count: number) =>
    Array.from({ length: count }, (_, i) => benchEvent(`${runId}-${prefix}`, i, now));
  try {
    // Warm-up (JIT of both paths, connections, stream files) with as many events as the ceiling's
    // warm-up publishes (5,000): a 200-event warm-up left the first measured batches to unoptimized
    // code in both processes, which the ceiling's publisher had behind it.
    await batched(eventsOf('wb', 4_000));
    await streamed(eventsOf('ws', 1_000));

    const batchedSeconds = await batched(eventsOf('b', total));
    const streamedSeconds = await streamed(eventsOf('s', total));

    const batchedRate = Math.round(total / batchedSeconds);
    const streamedRate = Math.round(total / streamedSeconds);
    const rows = [
      ['mode', 'events', 'seconds', 'events/s'],
      [
        `TrackBatch (${batchSize}/call, ${concurrency} in flight)`,
        String(total),
        batchedSeconds.toFixed(2),
        String(batchedRate),
      ],
      [`Stream (${concurrency} streams)`, String(total), streamedSeconds.toFixed(2), String(streamedRate)],
    ];
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    const table = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ')).join('\n');
    return {
      ingest_events_per_s: Math.max(batchedRate, streamedRate),
      batched_events_per_s: batchedRate,
      streamed_events_per_s: streamedRate,
      table,
    };
  } finally {
    client.close();
    await service?.stop();
  }
}
