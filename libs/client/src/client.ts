import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ChannelCredentials, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { context, propagation } from '@opentelemetry/api';
import { events, illFormedTextAt, ingest } from '@kairos/contracts';

export type EventCategory = 'customer_action' | 'system' | 'time_based' | 'external' | 'predicted';

/** An event to send. `id` is assigned here when missing, so retries resend the same id. */
export interface TrackEvent {
  id?: string;
  /** Dotted lower-case name, e.g. `cart.item_added`. */
  type: string;
  customerId: string;
  /** Classified by the server's rules when omitted. */
  category?: EventCategory;
  occurredAt?: Date | number | string;
  properties?: Record<string, unknown>;
  /** Only for API keys allowed to emit on behalf of other sources. */
  source?: string;
  context?: Partial<events.EventContext>;
}

export type TrackOutcome = 'accepted' | 'duplicate' | 'filtered';

export interface TrackResult {
  eventId: string;
  /** `duplicate`: stored earlier under the same id. `filtered`: dropped by prioritization rule `rule`. */
  outcome: TrackOutcome;
  rule?: string;
}

export interface TlsFiles {
  /** PEM contents or file paths. */
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface KairosClientOptions {
  /** `host:port` of the ingest service. */
  address: string;
  /** Sent as `authorization: Bearer <key>`. */
  apiKey?: string;
  /** With `true` the client uses TLS with the system roots; with an object, a custom CA and/or a client certificate (mTLS). */
  tls?: boolean | TlsFiles;
  /** Events per TrackBatch call. Default 100. */
  batchSize?: number;
  /** Longest an event waits in the buffer before its batch is sent. Default 20 ms. */
  flushIntervalMs?: number;
  /** Events buffered or in flight at most; beyond that `track` waits for room. Default 10 000. */
  maxBufferedEvents?: number;
  /** Retries of a call that failed transiently (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED). Default 5. */
  maxRetries?: number;
  /** Deadline of one call attempt. Default 10 000 ms. */
  callTimeoutMs?: number;
  /** TrackBatch calls in flight at once. Default 4. */
  maxConcurrentBatches?: number;
}

/** Raised for an event the server rejected (invalid, not permitted): fix it, do not retry it as is. */
export class KairosEventRejectedError extends Error {
  constructor(
    readonly eventId: string,
    /** The gRPC status code, e.g. 3 INVALID_ARGUMENT or 7 PERMISSION_DENIED. */
    readonly code: number,
    readonly detail: string,
  ) {
    super(`event ${eventId} rejected: ${detail}`);
    this.name = 'KairosEventRejectedError';
  }
}

/** Raised when a call failed for good (non-transient status, or retries exhausted). */
export class KairosCallError extends Error {
  constructor(
    readonly code: number,
    readonly detail: string,
    readonly attempts: number,
  ) {
    super(`Kairos ingest call failed after ${attempts} attempt(s): ${status[code] ?? code}: ${detail}`);
    this.name = 'KairosCallError';
  }
}

const TRANSIENT = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED]);
const CATEGORY: Record<EventCategory, events.EventCategory> = {
  customer_action: events.EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
  system: events.EventCategory.EVENT_CATEGORY_SYSTEM,
  time_based: events.EventCategory.EVENT_CATEGORY_TIME_BASED,
  external: events.EventCategory.EVENT_CATEGORY_EXTERNAL,
  predicted: events.EventCategory.EVENT_CATEGORY_PREDICTED,
};

interface Pending {
  event: events.Event;
  resolve(result: TrackResult): void;
  reject(err: Error): void;
}

function pem(v: string | Buffer | undefined): Buffer | null {
  if (v === undefined) return null;
  if (Buffer.isBuffer(v)) return v;
  return v.includes('-----BEGIN') ? Buffer.from(v) : readFileSync(v);
}

function channelCredentials(tls: KairosClientOptions['tls']): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  if (tls === true) return credentials.createSsl();
  return credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
}

/**
 * Carries the caller's trace context (W3C traceparent/tracestate, when the application traces) in
 * the event itself: batching mixes events from many callers into one call, so call metadata cannot
 * say which trace each event belongs to. Ingest continues each event's trace from it.
 */
function attachTraceContext(event: events.Event): void {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  if (!carrier.traceparent) return;
  event.context ??= events.EventContext.fromPartial({});
  event.context.attributes = { ...event.context.attributes, ...carrier };
}

function toProto(e: TrackEvent): events.Event {
  if (e.category !== undefined && !(e.category in CATEGORY))
    throw new TypeError(`unknown category '${e.category}'`);
  // Protobuf writes a lone surrogate as U+FFFD: 'Y\udcff' and 'Y\udcfe' would reach ingest as one id.
  const illFormed = illFormedTextAt({
    id: e.id,
    type: e.type,
    customer_id: e.customerId,
    source: e.source,
    properties: e.properties,
    context: e.context,
  });
  if (illFormed !== undefined) throw new TypeError(`${illFormed}: not valid UTF-8 (holds a lone surrogate)`);
  return events.Event.fromPartial({
    id: e.id || randomUUID(),
    type: e.type,
    customerId: e.customerId,
    category: e.category ? CATEGORY[e.category] : events.EventCategory.EVENT_CATEGORY_UNSPECIFIED,
    occurredAt:
      e.occurredAt === undefined
        ? undefined
        : e.occurredAt instanceof Date
          ? e.occurredAt
          : new Date(e.occurredAt),
    properties: e.properties,
    source: e.source ?? '',
    context: e.context,
  });
}

function settle(p: Pending, r: ingest.EventResult): void {
  switch (r.outcome) {
    case ingest.EventOutcome.EVENT_OUTCOME_ACCEPTED:
      return p.resolve({ eventId: r.eventId, outcome: 'accepted' });
    case ingest.EventOutcome.EVENT_OUTCOME_DUPLICATE:
      return p.resolve({ eventId: r.eventId, outcome: 'duplicate' });
    case ingest.EventOutcome.EVENT_OUTCOME_FILTERED:
      return p.resolve({ eventId: r.eventId, outcome: 'filtered', rule: r.rule });
    default:
      return p.reject(new KairosEventRejectedError(r.eventId || p.event.id, r.code, r.message));
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Emits events to Kairos ingest. `track` buffers events and sends them in TrackBatch calls (a batch
 * leaves when it is full or `flushIntervalMs` after its first event); its promise resolves once the
 * event is durably stored. Backpressure: at most `maxBufferedEvents` are buffered or in flight; when
 * the buffer is full, `track` waits until a batch completes. Transient failures are retried with
 * backoff (honouring the server's `retry-after-ms`) resending the SAME event ids, so nothing is
 * stored twice.
 */
export class KairosClient {
  private readonly client: InstanceType<typeof ingest.IngestServiceClient>;
  private readonly opts: Required<Omit<KairosClientOptions, 'apiKey' | 'tls'>>;
  private readonly metadata: Metadata;
  private queue: Pending[] = [];
  private buffered = 0;
  private batchesInFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly roomWaiters: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];

  constructor(options: KairosClientOptions) {
    this.opts = {
      address: options.address,
      batchSize: options.batchSize ?? 100,
      flushIntervalMs: options.flushIntervalMs ?? 20,
      maxBufferedEvents: options.maxBufferedEvents ?? 10_000,
      maxRetries: options.maxRetries ?? 5,
      callTimeoutMs: options.callTimeoutMs ?? 10_000,
      maxConcurrentBatches: options.maxConcurrentBatches ?? 4,
    };
    if (this.opts.maxBufferedEvents < this.opts.batchSize) this.opts.maxBufferedEvents = this.opts.batchSize;
    this.metadata = new Metadata();
    if (options.apiKey) this.metadata.set('authorization', `Bearer ${options.apiKey}`);
    this.client = new ingest.IngestServiceClient(options.address, channelCredentials(options.tls));
  }

  /** Events buffered or in flight. */
  get pending(): number {
    return this.buffered;
  }

  /** Buffers the event (waiting for room when the buffer is full) and resolves once it is stored. */
  async track(event: TrackEvent): Promise<TrackResult> {
    if (this.closed) throw new Error('KairosClient is closed');
    const proto = toProto(event);
    attachTraceContext(proto);
    while (this.buffered >= this.opts.maxBufferedEvents) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      if (this.closed) throw new Error('KairosClient is closed');
    }
    this.buffered++;
    return new Promise<TrackResult>((resolve, reject) => {
      this.queue.push({ event: proto, resolve, reject });
      if (this.queue.length >= this.opts.batchSize) this.pump();
      else this.timer ??= setTimeout(() => this.pump(true), this.opts.flushIntervalMs);
    });
  }

  /** Sends one event right away with Track (no batching); rejects with KairosEventRejectedError when invalid. */
  async trackNow(event: TrackEvent): Promise<TrackResult> {
    if (this.closed) throw new Error('KairosClient is closed');
    const proto = toProto(event);
    attachTraceContext(proto);
    const res = await this.withRetries<ingest.TrackResponse>((md, deadline, cb) =>
      this.client.track({ event: proto }, md, { deadline }, cb),
    ).catch((err: unknown) => {
      if (
        err instanceof KairosCallError &&
        (err.code === status.INVALID_ARGUMENT || err.code === status.PERMISSION_DENIED)
      ) {
        throw new KairosEventRejectedError(proto.id, err.code, err.detail);
      }
      throw err;
    });
    return new Promise<TrackResult>((resolve, reject) =>
      settle(
        { event: proto, resolve, reject },
        res.result ?? { eventId: proto.id, outcome: 1, code: 0, message: '', rule: '' },
      ),
    );
  }

  /** Sends everything buffered now and resolves when every event tracked so far has settled. */
  async flush(): Promise<void> {
    this.pump(true);
    if (this.buffered === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Flushes, then closes the channel. Later `track` calls reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    for (const wake of this.roomWaiters.splice(0)) wake();
    this.client.close();
  }

  /** Starts batches while there is work and a free slot; `force` also sends a partial batch. */
  private pump(force = false): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.queue.length > 0 && this.batchesInFlight < this.opts.maxConcurrentBatches) {
      if (!force && this.queue.length < this.opts.batchSize) break;
      const batch = this.queue.splice(0, this.opts.batchSize);
      this.batchesInFlight++;
      void this.send(batch).finally(() => {
        this.batchesInFlight--;
        this.buffered -= batch.length;
        for (const wake of this.roomWaiters.splice(0, batch.length)) wake();
        // Whatever queued up meanwhile (including a partial batch a flush is waiting for) goes next.
        if (this.queue.length > 0)
          this.pump(this.idleWaiters.length > 0 || this.queue.length >= this.opts.batchSize);
        if (this.queue.length > 0 && !this.timer && this.batchesInFlight < this.opts.maxConcurrentBatches) {
          this.timer = setTimeout(() => this.pump(true), this.opts.flushIntervalMs);
        }
        if (this.buffered === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
    }
  }

  private async send(batch: Pending[]): Promise<void> {
    try {
      const res = await this.withRetries<ingest.TrackBatchResponse>((md, deadline, cb) =>
        this.client.trackBatch({ events: batch.map((p) => p.event) }, md, { deadline }, cb),
      );
      batch.forEach((p, i) =>
        settle(
          p,
          res.results[i] ?? { eventId: p.event.id, outcome: 0, code: 13, message: 'no result', rule: '' },
        ),
      );
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
    }
  }

  /** Runs a call, retrying transient statuses with exponential backoff or the server's retry-after-ms. */
  private async withRetries<T>(
    attempt: (md: Metadata, deadline: Date, cb: (err: ServiceError | null, res: T) => void) => void,
  ): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await new Promise<T>((resolve, reject) =>
          attempt(this.metadata, new Date(Date.now() + this.opts.callTimeoutMs), (err, res) =>
            err ? reject(err) : resolve(res),
          ),
        );
      } catch (e) {
        const err = e as ServiceError;
        if (!TRANSIENT.has(err.code) || n > this.opts.maxRetries)
          throw new KairosCallError(err.code, err.details ?? err.message, n);
        const hinted = Number(err.metadata?.get('retry-after-ms')[0]);
        const backoff = Math.min(5_000, 100 * 2 ** (n - 1)) * (0.5 + Math.random() / 2);
        await sleep(Number.isFinite(hinted) && hinted > 0 ? hinted : backoff);
      }
    }
  }
}
