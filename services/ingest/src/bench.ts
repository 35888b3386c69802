import { credentials, type ServiceError } from '@grpc/grpc-js';
import { events, ingest } from '@kairos/contracts';
import { startIngestInProcess } from './in-process';

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
  try {
    // Warm-up: JIT, connections, stream file creation.
    await call<ingest.TrackBatchResponse>((cb) =>
      client.trackBatch(
        { events: Array.from({ length: 200 }, (_, i) => benchEvent(`${runId}-w`, i, now)) },
        cb,
      ),
    );

    const batchedEvents = Array.from({ length: total }, (_, i) => benchEvent(`${runId}-b`, i, now));
    let next = 0;
    let accepted = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          const batch = batchedEvents.slice(next, next + batchSize);
          next += batch.length;
          const res = await call<ingest.TrackBatchResponse>((cb) => client.trackBatch({ events: batch }, cb));
          accepted += res.accepted;
        }
      }),
    );
    const batchedSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (accepted !== total) throw new Error(`TrackBatch accepted ${accepted} of ${total} events`);

    const streamedEvents = Array.from({ length: total }, (_, i) => benchEvent(`${runId}-s`, i, now));
    const perStream = Math.ceil(total / concurrency);
    const t1 = process.hrtime.bigint();
    const streamed = await Promise.all(
      Array.from({ length: concurrency }, (_, s) =>
        call<ingest.StreamResponse>((cb) => {
          const stream = client.stream(cb);
          const slice = streamedEvents.slice(s * perStream, (s + 1) * perStream);
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
    const streamedSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
    const streamedAccepted = streamed.reduce((n, r) => n + r.accepted, 0);
    if (streamedAccepted !== total) throw new Error(`Stream accepted ${streamedAccepted} of ${total} events`);

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
