import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { filters, partitionOf, SCHEMAS, STREAMS, type events, type triggers } from '@kairos/contracts';
import { formatErrors, parseDefinitions, type DefinitionError } from '@kairos/definitions';
import { PatternEngine, type EngineEvent, type TriggerSpec } from '@kairos/patterns';
import { toEngineEvent, toTriggerFired, EventConversionError } from './domain/convert';

export class DraftTriggerError extends Error {
  constructor(
    message: string,
    readonly errors: DefinitionError[] = [],
  ) {
    super(message);
    this.name = 'DraftTriggerError';
  }
}

/** Parses and validates a draft trigger (one `kind: Trigger` document). */
export function parseDraftTrigger(yaml: string, file = 'definition_yaml'): TriggerSpec {
  if (!yaml.trim()) throw new DraftTriggerError('definition_yaml is empty');
  const result = parseDefinitions(yaml, file);
  if (result.errors.length) throw new DraftTriggerError(formatErrors(result.errors), result.errors);
  const found = result.documents.filter((d) => d.kind === 'Trigger');
  if (found.length !== 1 || found[0].kind !== 'Trigger') {
    throw new DraftTriggerError(
      `definition_yaml must hold exactly one Trigger document, found ${found.length}`,
    );
  }
  return found[0].trigger;
}

export interface SimulationResult {
  fired: triggers.TriggerFired[];
  eventsScanned: number;
  customers: number;
}

/**
 * Runs one trigger over events in event-time order (lateness 0, since the whole input is known),
 * then advances to `untilMs` so absence deadlines up to it fire. Pure: publishes nothing.
 */
export function simulate(
  trigger: TriggerSpec,
  input: events.EnrichedEvent[],
  opts: { untilMs: number; customers?: ReadonlySet<string> },
): SimulationResult {
  const engine = new PatternEngine([trigger], { allowedLatenessMs: 0 });
  const evs: Array<{ e: EngineEvent; enriched: events.EnrichedEvent }> = [];
  for (const enriched of input) {
    let e: EngineEvent;
    try {
      e = toEngineEvent(enriched);
    } catch (err) {
      if (err instanceof EventConversionError) continue;
      throw err;
    }
    if (opts.customers && opts.customers.size && !opts.customers.has(e.customerId)) continue;
    evs.push({ e, enriched });
  }
  evs.sort((a, b) => a.e.time - b.e.time);
  const lastProfile = new Map<string, events.EnrichedEvent['profile']>();
  const fired: triggers.TriggerFired[] = [];
  const customers = new Set<string>();
  for (const { e, enriched } of evs) {
    customers.add(e.customerId);
    if (enriched.profile) lastProfile.set(e.customerId, enriched.profile);
    for (const f of engine.process(e)) fired.push(toTriggerFired(f, lastProfile.get(f.customerId)));
  }
  for (const f of engine.advanceTo(opts.untilMs))
    fired.push(toTriggerFired(f, lastProfile.get(f.customerId)));
  return { fired, eventsScanned: evs.length, customers: customers.size };
}

/**
 * Reads stored enriched events whose occurred_at is in [fromMs, toMs] from the EVENTS stream with an
 * ordered consumer starting at `fromMs − margin` (stream time ≥ event time, except clock skew), up to
 * the stream's end at call time. With customers given, only their partitions' subjects are read.
 */
export async function readStoredEvents(
  nc: NatsConnection,
  opts: { fromMs: number; toMs: number; customers?: string[]; partitions: number; maxEvents: number },
): Promise<{ events: events.EnrichedEvent[]; truncated: boolean }> {
  const js = jetstream(nc);
  const subjectsToRead =
    opts.customers && opts.customers.length
      ? [...new Set(opts.customers.map((c) => partitionOf(c, opts.partitions)))].map(
          filters.enrichedPartition,
        )
      : [filters.allEnriched];
  const wanted = opts.customers && opts.customers.length ? new Set(opts.customers) : undefined;
  const consumer = await js.consumers.get(STREAMS.EVENTS.name, {
    // One filter, as a string: NATS permissions limit ordered consumers by the filter named in the
    // create subject, which several filters would leave out (customers are filtered below anyway).
    filter_subjects: subjectsToRead.length === 1 ? subjectsToRead[0] : filters.allEnriched,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(Math.max(0, opts.fromMs - 60_000)).toISOString(),
  });
  const out: events.EnrichedEvent[] = [];
  let scanned = 0;
  // Until a message reports nothing pending after it, or a fetch comes back empty (nothing to read).
  for (let done = false; !done;) {
    const batch = await consumer.fetch({ max_messages: 1_000, expires: 1_000 });
    let got = 0;
    for await (const m of batch) {
      got++;
      scanned++;
      if (m.info.pending === 0) done = true;
      let ev: events.EnrichedEvent;
      try {
        ev = SCHEMAS.EnrichedEvent.type.decode(m.data);
      } catch {
        continue;
      }
      const t = (ev.event?.occurredAt ?? ev.event?.receivedAt)?.getTime();
      if (
        t !== undefined &&
        t >= opts.fromMs &&
        t <= opts.toMs &&
        (!wanted || wanted.has(ev.event?.customerId ?? ''))
      )
        out.push(ev);
      if (scanned >= opts.maxEvents) return { events: out, truncated: m.info.pending > 0 };
      if (done) break;
    }
    if (got === 0) done = true;
  }
  return { events: out, truncated: false };
}
