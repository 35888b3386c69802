/**
 * In-process throughput benchmark of the pattern engine (the `engine` suite of tools/bench).
 * Run directly: `node libs/patterns/bench-engine.mjs [events] [customers] [triggers]` after building.
 */
import type { EngineEvent, TriggerSpec } from './ast';
import type { FiredTrigger } from './types';
import { benchmarkEvents, benchmarkTriggers } from './bench-workload';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PatternEngine } from './engine/index';

/** One set of triggers to measure: the same workload compiled another way. */
export interface EngineBenchmarkPath {
  name: string;
  triggers: TriggerSpec[];
}

export interface EngineBenchmarkOptions {
  events?: number;
  customers?: number;
  /** Triggers of the default path (the workload's closures); ignored when `paths` is given. */
  triggers?: number;
  /**
   * Trigger sets measured over the same events, their runs alternating; they must fire the same
   * (per trigger name), or the benchmark throws. Default: the workload's closures, as `native`.
   */
  paths?: EngineBenchmarkPath[];
  allowedLatenessMs?: number;
  seed?: number;
  /** Maximum arrival disorder in event time (ms). Default 500. */
  jitterMs?: number;
  /** Measured runs per path, each on a fresh engine; the median is reported. Default 3. */
  repeats?: number;
}

export interface EngineBenchmarkPathResult {
  name: string;
  /** Events per second of the median run. */
  events_per_s: number;
  /** Events per second of every run, in order. */
  runs: number[];
  fired: number;
  elapsed_ms: number;
}

export interface EngineBenchmarkResult {
  /** Events per second of the first path's median run. */
  engine_events_per_s: number;
  engine_state_bytes_per_customer: number;
  table: string;
  events: number;
  customers: number;
  triggers: number;
  fired: number;
  customers_with_state: number;
  elapsed_ms: number;
  paths: EngineBenchmarkPathResult[];
}

/**
 * Warms up the JIT on a separate engine so the measured run starts hot, over a stream of the same
 * shape and length but 1,000 customers (its state stays small). It must be as long: absence deadlines
 * fire 10–40 min of event time (30k–120k events) in and windows end later still, and a warm-up of the
 * first 20k events left that code to be compiled inside the measured run. The caller keeps the warm
 * engine reachable until the measured run ends, as a service keeps its objects for hours: when it was
 * collected first, V8 threw away the optimized code built around its objects (their hidden classes
 * went with them), so the measured run compiled about 100 functions again (seen with --trace-opt)
 * and was 20–30% slower. A function of its own, so nothing else it made is still reachable from the
 * caller's suspended frame when the garbage is collected.
 */
function warmUp(
  triggers: TriggerSpec[],
  events: number,
  allowedLatenessMs: number,
  seed: number,
  jitterMs: number,
): PatternEngine {
  const warm = new PatternEngine(triggers, { allowedLatenessMs });
  const stream = benchmarkEvents(events, 1_000, seed, jitterMs);
  for (const e of stream) warm.process(e);
  if (events > 0) warm.advanceTo(stream[events - 1].time + 1_000);
  return warm;
}

interface MeasuredRun {
  elapsedMs: number;
  cpuMs: number;
  fired: number;
  /** Firings per trigger name, to check that the paths fire the same. */
  byTrigger: Map<string, number>;
}

/** One timed run of a fresh engine over the events, then the watermark past the last one. */
function measure(engine: PatternEngine, events: EngineEvent[]): MeasuredRun {
  let fired = 0;
  const byTrigger = new Map<string, number>();
  const count = (firings: FiredTrigger[]): void => {
    fired += firings.length;
    for (const f of firings) byTrigger.set(f.trigger, (byTrigger.get(f.trigger) ?? 0) + 1);
  };
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < events.length; i++) count(engine.process(events[i]));
  if (events.length > 0) count(engine.advanceTo(events[events.length - 1].time + 1_000));
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  const cpu = process.cpuUsage(cpuStart);
  return { elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000, fired, byTrigger };
}

/** Describes how two runs' firings differ, or undefined when they fired the same per trigger. */
export function firingDifference(a: Map<string, number>, b: Map<string, number>): string | undefined {
  const names = [...new Set([...a.keys(), ...b.keys()])].sort();
  const diff = names.filter((n) => (a.get(n) ?? 0) !== (b.get(n) ?? 0));
  if (diff.length === 0) return undefined;
  return diff.map((n) => `${n}: ${a.get(n) ?? 0} vs ${b.get(n) ?? 0}`).join(', ');
}

interface StateFigures {
  withState: number;
  bytes: number;
  lateEventsDropped: number;
  partialMatchesEvicted: number;
}

function stateFigures(engine: PatternEngine): StateFigures {
  return {
    withState: engine.customersWithState().length,
    bytes: engine.stateBytes(),
    lateEventsDropped: engine.stats.lateEventsDropped,
    partialMatchesEvicted: engine.stats.partialMatchesEvicted,
  };
}

/** A full collection, so the warm-up's garbage (~100 MB) is not collected inside the measured run. */
function collectGarbage(): void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed();
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

export async function runEngineBenchmark(
  options: EngineBenchmarkOptions = {},
): Promise<EngineBenchmarkResult> {
  const eventCount = options.events ?? 300_000;
  const customerCount = options.customers ?? 100_000;
  const allowedLatenessMs = options.allowedLatenessMs ?? 1_000;
  const seed = options.seed ?? 42;
  const jitterMs = options.jitterMs ?? 500;
  const paths = options.paths ?? [{ name: 'native', triggers: benchmarkTriggers(options.triggers ?? 50) }];
  const events = benchmarkEvents(eventCount, customerCount, seed, jitterMs);
  // Every path is warmed up before any is measured, and every warm engine is kept (see warmUp).
  const warm = paths.map((p) => warmUp(p.triggers, eventCount, allowedLatenessMs, seed + 1, jitterMs));
  // The median of a few runs: one run's figure swung by about 20% with whether a full collection of
  // the growing heap fell inside its second (which V8 decides from timings), on top of the machine.
  // The paths' runs alternate so that a slower spell of the shared machine hits them alike. Each run
  // leaves the same state (the input is the same); the first path's last engine is kept to measure it.
  const runs: MeasuredRun[][] = paths.map(() => []);
  const repeats = Math.max(1, options.repeats ?? 3);
  let state: StateFigures | undefined;
  let engine: PatternEngine | undefined;
  for (let r = 0; r < repeats; r++) {
    for (let p = 0; p < paths.length; p++) {
      engine = undefined; // the previous run's engine is collected before the next run
      await new Promise((resolve) => setImmediate(resolve));
      collectGarbage();
      engine = new PatternEngine(paths[p].triggers, { allowedLatenessMs });
      runs[p].push(measure(engine, events));
      // Read at once, so no path is measured beside another run's state.
      if (p === 0 && r === repeats - 1) state = stateFigures(engine);
    }
  }
  engine = undefined;
  const reference = runs[0][0];
  runs.forEach((pathRuns, p) => {
    for (const run of pathRuns) {
      const diff = firingDifference(reference.byTrigger, run.byTrigger);
      if (diff !== undefined)
        throw new Error(`engine path '${paths[p].name}' fired differently from '${paths[0].name}': ${diff}`);
    }
  });
  const rate = (run: MeasuredRun): number => Math.round(eventCount / (run.elapsedMs / 1000));
  const medianOf = (pathRuns: MeasuredRun[]): MeasuredRun =>
    [...pathRuns].sort((a, b) => a.elapsedMs - b.elapsedMs)[(pathRuns.length - 1) >> 1];
  const results: EngineBenchmarkPathResult[] = paths.map((p, i) => {
    const median = medianOf(runs[i]);
    return {
      name: p.name,
      events_per_s: rate(median),
      runs: runs[i].map(rate),
      fired: median.fired,
      elapsed_ms: Math.round(median.elapsedMs),
    };
  });
  const { withState, bytes, lateEventsDropped, partialMatchesEvicted } = state as StateFigures;
  const bytesPerCustomer = withState === 0 ? 0 : Math.round(bytes / withState);
  const fmt = (n: number): string => n.toLocaleString('en-US');
  const rows: Array<[string, string]> = [
    ['events', fmt(eventCount)],
    ['customers', fmt(customerCount)],
    ['triggers', String(paths[0].triggers.length)],
    ['allowed lateness', `${allowedLatenessMs} ms`],
    // Read after the measured runs: the warm-up engines must stay reachable until then (see warmUp).
    ['warm-up', `${fmt(warm[0].stats.eventsProcessed)} events, 1,000 customers, engine kept, per path`],
  ];
  paths.forEach((p, i) => {
    const median = medianOf(runs[i]);
    rows.push(
      [`${p.name}: runs, events/s`, results[i].runs.map(fmt).join(', ')],
      [`${p.name}: median run, elapsed (wall)`, `${median.elapsedMs.toFixed(0)} ms`],
      [`${p.name}: median run, process cpu time`, `${median.cpuMs.toFixed(0)} ms (GC threads included)`],
      [`${p.name}: engine events/s (median run)`, fmt(results[i].events_per_s)],
      [`${p.name}: triggers fired`, fmt(median.fired)],
    );
  });
  for (let i = 1; i < paths.length; i++)
    rows.push([
      `${paths[0].name} ÷ ${paths[i].name} (medians)`,
      (results[0].events_per_s / results[i].events_per_s).toFixed(2),
    ]);
  rows.push(
    [`customers with state (${paths[0].name})`, fmt(withState)],
    ['state bytes / customer with state', fmt(bytesPerCustomer)],
    ['state bytes total', fmt(bytes)],
    ['late events dropped', String(lateEventsDropped)],
    ['partial matches evicted', String(partialMatchesEvicted)],
  );
  const width = Math.max(...rows.map(([k]) => k.length));
  const table = [
    'pattern engine (single thread, in-process)',
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
  ].join('\n');
  return {
    engine_events_per_s: results[0].events_per_s,
    engine_state_bytes_per_customer: bytesPerCustomer,
    table,
    events: eventCount,
    customers: customerCount,
    triggers: paths[0].triggers.length,
    fired: results[0].fired,
    customers_with_state: withState,
    elapsed_ms: results[0].elapsed_ms,
    paths: results,
  };
}
