import type { TrackEvent, TrackResult } from '@kairos/client';
import type { SimEvent } from './events';
import { Ledger } from './ledger';
import type { Population } from './population';

/**
 * What the load driver needs from an ingest client. `KairosClient` from `@kairos/client` satisfies
 * it; tests and the benchmark can pass anything else with the same shape.
 */
export interface EventSink {
  track(event: TrackEvent): Promise<TrackResult>;
  flush(): Promise<void>;
}

/** Time source of the pacer, injectable so rate tests do not depend on the machine's speed. */
export interface LoadClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: LoadClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface RunLoadOptions {
  client: EventSink;
  population: Population;
  /** Offered load, events per second. */
  rate: number;
  /** Stop after this long (wall ms); at least one of durationMs / events is required. */
  durationMs?: number;
  /** Stop after this many events. */
  events?: number;
  /**
   * `wall` (default): occurredAt is the wall-clock send time, so the mesh sees live events (simulated
   * time is compressed or stretched to the offered rate, order preserved). `simulated`: the
   * population's own timestamps (start the population near now: ingest refuses events too far in
   * the past or future).
   */
  timestamps?: 'wall' | 'simulated';
  /** Ledger to record into; a new one over `population` by default. */
  ledger?: Ledger;
  /** Events handed to the client but not yet settled, at most; the pacer waits beyond that. Default 10 000. */
  maxInFlight?: number;
  onAccepted?(event: SimEvent, result: TrackResult): void;
  onRejected?(event: SimEvent, error: Error): void;
  clock?: LoadClock;
  /** Stops the run early when aborted. */
  signal?: AbortSignal;
}

export interface RunLoadResult {
  /** Events handed to the client. */
  sent: number;
  /** Stored by ingest (accepted + duplicates + filtered count as delivered to ingest, not as rejected). */
  accepted: number;
  duplicates: number;
  filtered: number;
  /** Refused by ingest or failed for good. */
  rejected: number;
  elapsedMs: number;
  offeredRate: number;
  /** Events sent per elapsed second. */
  achievedRate: number;
  /** First rejection message, to explain a non-zero `rejected`. */
  firstError?: string;
  ledger: Ledger;
}

/** The client's view of an event: wall or simulated occurredAt, session id in the context. */
export function toTrackEvent(event: SimEvent, occurredAt: number = event.occurredAt): TrackEvent {
  return {
    id: event.id,
    type: event.type,
    customerId: event.customerId,
    category: event.category,
    occurredAt: new Date(occurredAt),
    properties: event.properties,
    context: event.sessionId ? { sessionId: event.sessionId } : undefined,
  };
}

/**
 * Sends the population's events at `rate` events/s: event i is due at start + i/rate, so the offered
 * load holds on average however the timer fires (late sleeps are caught up in a burst). Every event
 * is recorded in the ledger with its outcome. Resolves after every sent event has settled.
 */
export async function runLoad(options: RunLoadOptions): Promise<RunLoadResult> {
  const { client, population, rate } = options;
  if (!(rate > 0) || !Number.isFinite(rate))
    throw new Error(`rate: expected a positive number of events/s, got ${rate}`);
  if (options.durationMs === undefined && options.events === undefined)
    throw new Error('runLoad: give durationMs or events (or both)');
  if (options.durationMs !== undefined && !(options.durationMs >= 0))
    throw new Error(`durationMs: expected a number >= 0, got ${options.durationMs}`);
  if (options.events !== undefined && !(Number.isInteger(options.events) && options.events >= 0))
    throw new Error(`events: expected an integer >= 0, got ${options.events}`);
  const clock = options.clock ?? systemClock;
  const ledger = options.ledger ?? new Ledger(population);
  const wall = (options.timestamps ?? 'wall') === 'wall';
  const maxInFlight = options.maxInFlight ?? 10_000;
  const inFlight = new Set<Promise<void>>();
  const counts = { accepted: 0, duplicates: 0, filtered: 0, rejected: 0 };
  let firstError: string | undefined;
  const intervalMs = 1000 / rate;
  const start = clock.now();
  let sent = 0;
  let sinceYield = 0;

  while (!options.signal?.aborted) {
    if (options.events !== undefined && sent >= options.events) break;
    const due = start + sent * intervalMs;
    const now = clock.now();
    // Stop at the duration also when running behind the schedule (overdue events are not owed).
    if (
      options.durationMs !== undefined &&
      (due - start >= options.durationMs || now - start >= options.durationMs)
    )
      break;
    if (due > now) {
      await clock.sleep(due - now);
      sinceYield = 0;
    } else if (++sinceYield >= 256) {
      // Running behind: still let I/O (gRPC responses) progress.
      await new Promise<void>((resolve) => setImmediate(resolve));
      sinceYield = 0;
    }
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    const [event] = population.nextEvents(1);
    if (!event) break;
    const occurredAt = wall ? clock.now() : event.occurredAt;
    ledger.recordSent(event, occurredAt);
    sent++;
    const p = client.track(toTrackEvent(event, occurredAt)).then(
      (result) => {
        if (result.outcome === 'accepted') counts.accepted++;
        else if (result.outcome === 'duplicate') counts.duplicates++;
        else counts.filtered++;
        ledger.recordOutcome(event.id, result.outcome);
        options.onAccepted?.(event, result);
      },
      (err: Error) => {
        counts.rejected++;
        firstError ??= err.message;
        ledger.recordOutcome(event.id, 'rejected', err.message);
        options.onRejected?.(event, err);
      },
    );
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  await client.flush();
  await Promise.all(inFlight);
  const elapsedMs = clock.now() - start;
  return {
    sent,
    ...counts,
    elapsedMs,
    offeredRate: rate,
    achievedRate: elapsedMs > 0 ? Math.round((sent / elapsedMs) * 1000 * 100) / 100 : sent,
    firstError,
    ledger,
  };
}
