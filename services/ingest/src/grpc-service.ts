import {
  Metadata,
  status,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type ServerReadableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { context } from '@opentelemetry/api';
import { events, ingest } from '@kairos/contracts';
import { inject, injectable, TOKENS, type Logger } from '@kairos/service-kit';
import { keyFromHeaders, type Authenticator, type Principal } from './domain/auth';
import { Ingestor, OutcomeTally } from './ingestor';
import { INGEST_TOKENS } from './tokens';
import { validateBatchSize } from './domain/validation';

const { EventOutcome } = ingest;

/** A call failure with a gRPC status; RESOURCE_EXHAUSTED carries `retry-after-ms` in the trailers. */
export class CallError extends Error {
  constructor(
    readonly code: status,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  toServiceError(): Partial<ServerErrorResponse> {
    const metadata = new Metadata();
    if (this.retryAfterMs !== undefined) metadata.set('retry-after-ms', String(this.retryAfterMs));
    return { code: this.code, details: this.message, metadata };
  }
}

function firstValue(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : v?.toString('utf8');
}

function unavailable(err: unknown): CallError {
  return new CallError(
    status.UNAVAILABLE,
    `event store unavailable (${(err as Error).message}); retry with the same event ids`,
  );
}

/** A failed store (publish) becomes UNAVAILABLE, which clients retry with the same ids. */
async function storeOrUnavailable<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw unavailable(err);
  }
}

/**
 * The gRPC IngestService: authentication and rate limiting per call, then the Ingestor per event.
 * Track fails the call for a rejected event; TrackBatch and Stream report per-event results.
 */
@injectable()
export class IngestGrpcService {
  private inFlight = 0;
  private draining = false;
  private idle: Array<() => void> = [];

  constructor(
    @inject(INGEST_TOKENS.Ingestor) private readonly ingestor: Ingestor,
    @inject(INGEST_TOKENS.Authenticator) private readonly authenticator: Authenticator,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  /** Refuses new calls and resolves once the calls in flight have answered. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private begin(md: Metadata): Principal {
    if (this.draining)
      throw new CallError(status.UNAVAILABLE, 'ingest is shutting down; retry on another replica');
    const auth = this.authenticator.authenticate(
      keyFromHeaders(firstValue(md, 'authorization'), firstValue(md, 'x-api-key')),
    );
    if (!auth.ok) throw new CallError(status.UNAUTHENTICATED, auth.message);
    this.inFlight++;
    return auth.principal;
  }

  private end(): void {
    if (--this.inFlight === 0 && this.idle.length) for (const resolve of this.idle.splice(0)) resolve();
  }

  private rateLimit(principal: Principal, count: number): void {
    const waitMs = principal.bucket?.take(count, this.ingestor.now()) ?? 0;
    if (waitMs > 0) {
      throw new CallError(
        status.RESOURCE_EXHAUSTED,
        `rate limit of API key '${principal.name}' exceeded (${principal.bucket!.ratePerSecond} events/s); retry after ${waitMs} ms`,
        waitMs,
      );
    }
  }

  private fail(callback: (err: Partial<ServerErrorResponse>) => void, err: unknown): void {
    if (err instanceof CallError) return callback(err.toServiceError());
    this.logger.error({ err: (err as Error).message }, 'ingest call failed');
    callback(unavailable(err).toServiceError());
  }

  /** Authenticates, runs `body`, answers with its result or its error, and counts the call in flight. */
  private unary<Req, Res>(
    call: ServerUnaryCall<Req, Res>,
    callback: sendUnaryData<Res>,
    body: (principal: Principal) => Promise<Res>,
  ): void {
    let principal: Principal;
    try {
      principal = this.begin(call.metadata);
    } catch (err) {
      return this.fail(callback, err);
    }
    body(principal)
      .then(
        (response) => callback(null, response),
        (err: unknown) => this.fail(callback, err),
      )
      .finally(() => this.end());
  }

  readonly implementation: ingest.IngestServiceServer = {
    track: (call: ServerUnaryCall<ingest.TrackRequest, ingest.TrackResponse>, callback) =>
      this.unary(call, callback, async (principal) => {
        this.rateLimit(principal, 1);
        const event = call.request.event ?? events.Event.fromPartial({});
        const now = this.ingestor.now();
        const early = this.ingestor.prepare(event, principal, 'event', now);
        if (early?.outcome === EventOutcome.EVENT_OUTCOME_REJECTED)
          throw new CallError(early.code, early.message);
        const result = early ?? (await storeOrUnavailable(this.ingestor.publish(event, new Date(now))));
        const tally = new OutcomeTally();
        tally.add(result);
        tally.record();
        return { result };
      }),

    trackBatch: (call: ServerUnaryCall<ingest.TrackBatchRequest, ingest.TrackBatchResponse>, callback) =>
      this.unary(call, callback, async (principal) => {
        const batch = call.request.events;
        const sizeProblem = validateBatchSize(batch.length, this.ingestor.settings.maxBatch);
        if (sizeProblem) throw new CallError(status.INVALID_ARGUMENT, sizeProblem);
        this.rateLimit(principal, batch.length);
        const tally = new OutcomeTally();
        const results = await storeOrUnavailable(this.ingestor.ingestBatch(batch, principal, tally));
        tally.record();
        return { results, accepted: tally.accepted + tally.duplicates, rejected: tally.rejected };
      }),

    stream: (call: ServerReadableStream<ingest.StreamRequest, ingest.StreamResponse>, callback) => {
      let principal: Principal;
      try {
        principal = this.begin(call.metadata);
      } catch (err) {
        return this.fail(callback, err);
      }
      new StreamCall(call, principal, this.ingestor, (err, response) => {
        this.end();
        if (err) this.fail(callback, err);
        else callback(null, response);
      }).run();
    },
  };
}

/**
 * One client-streaming call: events are prepared as they arrive and published concurrently, at most
 * `streamWindow` at a time (the call stops reading from the client beyond that, and while the key's
 * rate limit asks to wait), and the summary is sent once the client half-closed and all settled.
 * The events that arrive together (one read from the connection holds many) are published as one
 * batch, in the next turn of the event loop. A call open longer than `streamMaxDurationMs` stops
 * reading and ends with DEADLINE_EXCEEDED once the messages read so far have settled, saying how
 * many were processed (the client resends the rest on a new stream; ids de-duplicate).
 */
class StreamCall {
  private index = 0;
  private inFlight = 0;
  private waitingForTokens = false;
  private ended = false;
  private done = false;
  /** Messages read before the duration limit ended the call, once it did. */
  private expiredAfter: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failure: unknown;
  private readonly tally = new OutcomeTally();
  private readonly failures: ingest.EventResult[] = [];
  /** Prepared events waiting for the next flush (counted in `inFlight`). */
  private queue: events.Event[] = [];
  private flushScheduled = false;
  /** The call's trace context (its SERVER span), for publishes made from a timer. */
  private readonly callContext = context.active();

  constructor(
    private readonly call: ServerReadableStream<ingest.StreamRequest, ingest.StreamResponse>,
    private readonly principal: Principal,
    private readonly ingestor: Ingestor,
    private readonly finish: (err: unknown, response?: ingest.StreamResponse) => void,
  ) {}

  run(): void {
    this.timer = setTimeout(() => this.expire(), this.ingestor.settings.streamMaxDurationMs);
    this.call.on('data', (req: ingest.StreamRequest) => {
      // Messages already buffered when the limit passed are not processed: the error counts them out.
      if (this.expiredAfter === undefined)
        this.admit(req.event ?? events.Event.fromPartial({}), this.index++);
    });
    this.call.on('end', () => {
      this.ended = true;
      this.maybeFinish();
    });
    this.call.on('error', (err) => this.abort(err));
    this.call.on('cancelled', () => this.abort(new Error('cancelled by the client')));
  }

  private admit(event: events.Event, index: number): void {
    if (this.done) return;
    const waitMs = this.principal.bucket?.take(1, this.ingestor.now()) ?? 0;
    if (waitMs > 0) {
      // Throttle the stream instead of failing it: stop reading until the bucket has a token.
      this.waitingForTokens = true;
      this.call.pause();
      setTimeout(() => {
        this.waitingForTokens = false;
        this.admit(event, index);
        this.resumeIfRoom();
        this.maybeFinish();
      }, waitMs);
      return;
    }
    const now = this.ingestor.now();
    const early = this.ingestor.prepare(event, this.principal, `events[${index}]`, now);
    if (early) return this.record(early);
    event.receivedAt = new Date(now);
    this.queue.push(event);
    this.inFlight++;
    if (this.inFlight >= this.ingestor.settings.streamWindow) this.call.pause();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    context
      .with(this.callContext, () => this.ingestor.publishAll(batch))
      .then(
        (results) => this.settle(batch.length, results),
        (err) => {
          this.failure ??= err;
          this.settle(batch.length, []);
        },
      );
  }

  private record(result: ingest.EventResult): void {
    this.tally.add(result);
    // Duplicates are stored already: only what the client should fix or knows was dropped is listed.
    if (
      result.outcome === EventOutcome.EVENT_OUTCOME_REJECTED ||
      result.outcome === EventOutcome.EVENT_OUTCOME_FILTERED
    ) {
      this.failures.push(result);
    }
  }

  private settle(count: number, results: ingest.EventResult[]): void {
    this.inFlight -= count;
    for (const result of results) this.record(result);
    this.resumeIfRoom();
    this.maybeFinish();
  }

  private expire(): void {
    if (this.done) return;
    this.expiredAfter = this.index;
    this.call.pause();
    this.maybeFinish();
  }

  private resumeIfRoom(): void {
    if (
      !this.done &&
      this.expiredAfter === undefined &&
      !this.waitingForTokens &&
      this.inFlight < this.ingestor.settings.streamWindow
    )
      this.call.resume();
  }

  private maybeFinish(): void {
    const expired = this.expiredAfter !== undefined;
    if (this.done || (!this.ended && !expired) || this.inFlight > 0 || this.waitingForTokens) return;
    this.done = true;
    clearTimeout(this.timer);
    this.tally.record();
    if (this.failure) return this.finish(unavailable(this.failure));
    if (expired) {
      const limit = this.ingestor.settings.streamMaxDurationMs;
      return this.finish(
        new CallError(
          status.DEADLINE_EXCEEDED,
          `stream: open longer than ${limit} ms (KAIROS_INGEST_STREAM_MAX_DURATION); the first ` +
            `${this.expiredAfter} messages were processed (accepted ${this.tally.accepted}, rejected ` +
            `${this.tally.rejected}); send the rest on a new stream`,
        ),
      );
    }
    this.finish(null, {
      accepted: this.tally.accepted,
      duplicates: this.tally.duplicates,
      filtered: this.tally.filtered,
      rejected: this.tally.rejected,
      failures: this.failures,
    });
  }

  private abort(err: Error): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.finish(new CallError(status.CANCELLED, err.message));
  }
}
