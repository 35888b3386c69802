import type { SimEvent } from './events';
import { Rng } from './prng';
import { decideReaction, DEFAULT_REACTION_OPTIONS, type Delivery, type ReactionDecision } from './reaction';
import {
  SCENARIO_KINDS,
  scenarioCount,
  scenarioDrafts,
  type ScenarioCounts,
  type ScenarioKind,
} from './scenarios';
import { CustomerStream, type Draft, type SimCustomer } from './session';
import { sampleTraits, type CustomerTraits } from './traits';

const DAY_MS = 86_400_000;
/** Default simulated start: fixed, so output depends on the seed and options only. */
export const DEFAULT_START = Date.parse('2025-01-06T00:00:00.000Z');

export interface PopulationOptions {
  seed: number;
  /** Organic customers. */
  customers: number;
  /** Simulated start (epoch ms, Date or ISO string). Default 2025-01-06T00:00:00Z. */
  startTime?: number | Date | string;
  /** Scripted scenario customers (see scenarios.ts), on top of `customers`. Default none. */
  scenarios?: ScenarioCounts;
  /** Scenario scripts start spread over this much simulated time from the start. Default 10 minutes. */
  scenarioSpreadMs?: number;
  /** Added to event ids (`lg<seed>-<runId>-<n>`) so repeated runs against one mesh are not de-duplicated. */
  runId?: string;
  /** Customer id prefix. Default `sim<seed>-`. */
  customerPrefix?: string;
  /** True uplift of a well-timed message on purchase probability. Default 0.1. */
  uplift?: number;
  /** A message within this many hours of the preferred local hour is well timed. Default 1. */
  wellTimedWindowHours?: number;
  /** Ground truth horizon: churn and next purchase are looked for this far ahead. Default 30 days. */
  horizonDays?: number;
  /**
   * Median length in days of the disengagement that precedes churn (log-normal per customer, σ 0.5):
   * sessions and purchases fade over it instead of stopping abruptly, as observed before real
   * attrition. 0 (default) keeps the abrupt churn of earlier versions, so existing seeds replay
   * identically. docs/prediction.md explains the choice.
   */
  churnDeclineDays?: number;
}

export interface ResolvedPopulationOptions {
  seed: number;
  customers: number;
  startTime: number;
  scenarios: Record<ScenarioKind, number>;
  scenarioSpreadMs: number;
  runId: string;
  customerPrefix: string;
  uplift: number;
  wellTimedWindowHours: number;
  horizonDays: number;
  churnDeclineDays: number;
}

/** What will happen to a customer, as of a point in simulated time. */
export interface GroundTruth {
  customerId: string;
  scenario?: string;
  traits: CustomerTraits;
  churnAt: string | null;
  /** Churned at or before `asOf`. */
  churned: boolean;
  /** Churns within the horizon after `asOf`. */
  willChurn: boolean;
  /** Time of the next organic purchase after `asOf` within the horizon, or null. */
  nextPurchaseAt: string | null;
}

export interface Reaction {
  decision: ReactionDecision;
  /** Events to send back (email.opened / message.opened, message.clicked, order.completed). */
  events: SimEvent[];
}

/** Index-addressed binary min-heap of customers keyed by (next event time, customer index). */
class CustomerHeap {
  private readonly items: number[] = [];
  constructor(private readonly key: (i: number) => number) {}
  get size(): number {
    return this.items.length;
  }
  peek(): number | undefined {
    return this.items[0];
  }
  private less(a: number, b: number): boolean {
    const ka = this.key(a);
    const kb = this.key(b);
    return ka < kb || (ka === kb && a < b);
  }
  push(i: number): void {
    const h = this.items;
    h.push(i);
    let c = h.length - 1;
    while (c > 0) {
      const p = (c - 1) >> 1;
      if (!this.less(h[c], h[p])) break;
      [h[c], h[p]] = [h[p], h[c]];
      c = p;
    }
  }
  pop(): number | undefined {
    const h = this.items;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let p = 0;
      for (;;) {
        const l = 2 * p + 1;
        const r = l + 1;
        let m = p;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === p) break;
        [h[m], h[p]] = [h[p], h[m]];
        p = m;
      }
    }
    return top;
  }
}

function toEpoch(value: number | Date | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : value;
  if (!Number.isFinite(ms)) throw new Error(`startTime: not a valid time: '${String(value)}'`);
  return ms;
}

export function resolvePopulationOptions(options: PopulationOptions): ResolvedPopulationOptions {
  if (!Number.isInteger(options.seed)) throw new Error(`seed: expected an integer, got ${options.seed}`);
  if (!Number.isInteger(options.customers) || options.customers < 0)
    throw new Error(`customers: expected a non-negative integer, got ${options.customers}`);
  const scenarios = {} as Record<ScenarioKind, number>;
  for (const kind of SCENARIO_KINDS) {
    const n = scenarioCount(options.scenarios, kind);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`scenarios.${kind}: expected a non-negative integer, got ${n}`);
    scenarios[kind] = n;
  }
  const decline = options.churnDeclineDays ?? 0;
  if (!(decline >= 0 && decline <= 365))
    throw new Error(`churnDeclineDays: expected a number of days in [0, 365], got ${decline}`);
  const uplift = options.uplift ?? DEFAULT_REACTION_OPTIONS.uplift;
  if (!(uplift >= 0 && uplift <= 1)) throw new Error(`uplift: expected a number in [0, 1], got ${uplift}`);
  if (options.runId !== undefined && !/^[A-Za-z0-9_.-]*$/.test(options.runId))
    throw new Error(`runId: letters, digits, '.', '_' and '-' only, got '${options.runId}'`);
  return {
    seed: options.seed,
    customers: options.customers,
    startTime: toEpoch(options.startTime, DEFAULT_START),
    scenarios,
    scenarioSpreadMs: options.scenarioSpreadMs ?? 10 * 60_000,
    runId: options.runId ?? '',
    customerPrefix: options.customerPrefix ?? `sim${options.seed}-`,
    uplift,
    wellTimedWindowHours: options.wellTimedWindowHours ?? DEFAULT_REACTION_OPTIONS.wellTimedWindowHours,
    horizonDays: options.horizonDays ?? 30,
    churnDeclineDays: options.churnDeclineDays ?? 0,
  };
}

/**
 * A seeded population of simulated customers. Events come out in simulated-time order (ties by
 * customer index), with ids `lg<seed>[-<runId>]-<n>` numbered in emission order: the same seed and
 * options always give the same sequence.
 */
export class Population {
  readonly options: ResolvedPopulationOptions;
  readonly customers: readonly SimCustomer[];
  private readonly byId = new Map<string, SimCustomer>();
  private readonly streams: Array<CustomerStream | undefined> = [];
  /** Generated, not yet emitted drafts per customer (a queue: array + read position). */
  private readonly pending: Draft[][] = [];
  private readonly pendingPos: number[] = [];
  private readonly heap: CustomerHeap;
  private emitted = 0;
  private lastEmittedAt: number;

  constructor(options: PopulationOptions) {
    const o = resolvePopulationOptions(options);
    this.options = o;
    const customers: SimCustomer[] = [];
    const newCustomer = (id: string, scenario?: ScenarioKind): SimCustomer => {
      const index = customers.length;
      const traits = sampleTraits(Rng.derive(o.seed, 'traits', index));
      if (scenario === 'vip') traits.vip = true;
      const fate = Rng.derive(o.seed, 'churn', index);
      const churnAt = scenario
        ? Number.MAX_SAFE_INTEGER
        : Math.round(o.startTime + fate.exponential(1 / traits.churnHazard) * DAY_MS);
      const customer: SimCustomer = { index, id, traits, churnAt, scenario };
      if (!scenario && o.churnDeclineDays > 0)
        customer.declineMs = Math.round(
          Rng.derive(o.seed, 'decline', index).logNormal(o.churnDeclineDays, 0.5) * DAY_MS,
        );
      customers.push(customer);
      return customer;
    };
    const width = String(Math.max(1, o.customers - 1)).length;
    for (let i = 0; i < o.customers; i++) newCustomer(`${o.customerPrefix}${String(i).padStart(width, '0')}`);
    const scripted: Array<[ScenarioKind, number]> = [];
    const most = Math.max(0, ...Object.values(o.scenarios));
    // Interleave kinds so every kind appears early even when the run is cut short.
    for (let k = 0; k < most; k++)
      for (const kind of SCENARIO_KINDS) if (k < o.scenarios[kind]) scripted.push([kind, k]);
    this.customers = customers;
    this.heap = new CustomerHeap((i) => this.pending[i][this.pendingPos[i]].at);
    for (const c of customers) {
      this.streams.push(new CustomerStream(o.seed, c, o.startTime));
      this.pending.push([]);
      this.pendingPos.push(0);
    }
    scripted.forEach(([kind, k], slot) => {
      const c = newCustomer(`${o.customerPrefix}scn-${kind}-${k}`, kind);
      const start = o.startTime + Math.round((o.scenarioSpreadMs * (slot + 1)) / (scripted.length + 1));
      this.streams.push(undefined);
      this.pending.push(scenarioDrafts(kind, o.seed, c, start));
      this.pendingPos.push(0);
    });
    for (const c of customers) {
      this.byId.set(c.id, c);
      if (this.refill(c.index)) this.heap.push(c.index);
    }
    this.lastEmittedAt = o.startTime;
  }

  get seed(): number {
    return this.options.seed;
  }

  /** Simulated time of the last emitted event (the start before any). */
  get clock(): number {
    return this.lastEmittedAt;
  }

  /** Events emitted so far. */
  get emittedCount(): number {
    return this.emitted;
  }

  customer(id: string): SimCustomer | undefined {
    return this.byId.get(id);
  }

  /** Customers playing a scripted scenario, by kind. */
  scenarioCustomers(): Record<ScenarioKind, string[]> {
    const out = Object.fromEntries(SCENARIO_KINDS.map((k) => [k, [] as string[]])) as Record<
      ScenarioKind,
      string[]
    >;
    for (const c of this.customers) if (c.scenario) out[c.scenario as ScenarioKind].push(c.id);
    return out;
  }

  private eventId(n: number): string {
    const run = this.options.runId ? `-${this.options.runId}` : '';
    return `lg${this.options.seed}${run}-${n}`;
  }

  /** Makes sure customer `i` has a pending draft; false when it never will again. */
  private refill(i: number): boolean {
    if (this.pendingPos[i] < this.pending[i].length) return true;
    const session = this.streams[i]?.next();
    if (!session) {
      this.pending[i] = [];
      this.pendingPos[i] = 0;
      return false;
    }
    this.pending[i] = session.drafts;
    this.pendingPos[i] = 0;
    return true;
  }

  /** Time of the next event, or undefined when every customer has churned or finished its script. */
  peekTime(): number | undefined {
    const i = this.heap.peek();
    return i === undefined ? undefined : this.pending[i][this.pendingPos[i]].at;
  }

  /**
   * The next events in simulated-time order: `n` of them (a number), all before a time (a Date), or
   * `{ until, count }` (either or both; `until` as epoch ms, Date or ISO string). When the events up
   * to `until` are exhausted, the clock moves to `until`.
   */
  nextEvents(limit: number | Date | { until?: number | Date | string; count?: number }): SimEvent[] {
    let max = Number.POSITIVE_INFINITY;
    let until = Number.POSITIVE_INFINITY;
    const count = typeof limit === 'number' ? limit : limit instanceof Date ? undefined : limit.count;
    if (count !== undefined) {
      if (!Number.isInteger(count) || count < 0)
        throw new Error(`nextEvents: expected a count >= 0, got ${count}`);
      max = count;
    }
    if (limit instanceof Date) until = limit.getTime();
    else if (typeof limit === 'object' && limit.until !== undefined) until = toEpoch(limit.until, NaN);
    if (Number.isNaN(until)) throw new Error('nextEvents: until is not a valid time');
    const out: SimEvent[] = [];
    while (out.length < max) {
      const i = this.heap.peek();
      if (i === undefined) break;
      const draft = this.pending[i][this.pendingPos[i]];
      if (draft.at >= until) break;
      this.heap.pop();
      this.pendingPos[i]++;
      if (this.refill(i)) this.heap.push(i);
      const customer = this.customers[i];
      out.push({
        id: this.eventId(++this.emitted),
        type: draft.type,
        category: draft.category,
        customerId: customer.id,
        occurredAt: draft.at,
        properties: draft.properties,
        sessionId: draft.sessionId,
        scenario: draft.scenario,
      });
      this.lastEmittedAt = draft.at;
    }
    if (out.length < max && until !== Number.POSITIVE_INFINITY && until > this.lastEmittedAt)
      this.lastEmittedAt = until;
    return out;
  }

  /** Iterates events until `until` (simulated epoch ms) in chunks, for streaming large outputs. */
  *eventsUntil(until: number, chunk = 1024): Generator<SimEvent> {
    for (;;) {
      const batch = this.nextEvents({ until, count: chunk });
      yield* batch;
      if (batch.length < chunk) return;
    }
  }

  /**
   * How a simulated customer reacts to a delivered message (undefined for customers this population
   * does not know, or who have churned). Decisions are derived from the seed and the action id, so
   * the same delivery always gets the same reaction. Events are stamped from `emitAt` (default the
   * delivery time) one second apart; their ids derive from the action id.
   */
  react(delivery: Delivery, emitAt: number = delivery.deliveredAt): Reaction | undefined {
    const customer = this.byId.get(delivery.customerId);
    if (!customer || (delivery.simulatedAt ?? delivery.deliveredAt) >= customer.churnAt) return undefined;
    const decision = decideReaction(
      customer.traits,
      delivery,
      Rng.derive(this.options.seed, 'reaction', delivery.actionId),
      {
        uplift: this.options.uplift,
        wellTimedWindowHours: this.options.wellTimedWindowHours,
      },
    );
    const events: SimEvent[] = [];
    const base = {
      actionId: delivery.actionId,
      channel: delivery.channel,
      workflow: delivery.workflow ?? '',
    };
    const add = (kind: string, type: string, properties: Record<string, unknown>) =>
      events.push({
        id: `lg${this.options.seed}-r-${delivery.actionId}-${kind}`,
        type,
        category: 'customer_action',
        customerId: customer.id,
        occurredAt: emitAt + events.length * 1000,
        properties,
      });
    if (decision.opened) add('open', delivery.channel === 'email' ? 'email.opened' : 'message.opened', base);
    if (decision.clicked) add('click', 'message.clicked', base);
    if (decision.converted)
      add('order', 'order.completed', {
        ...base,
        orderId: `${customer.id}-${delivery.actionId}`,
        revenue: decision.revenue,
        currency: 'USD',
      });
    return { decision, events };
  }

  /**
   * Ground truth as of `asOf` (default: the simulated clock): who has churned or will churn within
   * the horizon, and when each customer next purchases organically (looked up on a clone of the
   * customer's stream, so the population itself is not advanced).
   */
  groundTruth(asOf: number = this.clock): GroundTruth[] {
    const horizon = asOf + this.options.horizonDays * DAY_MS;
    return this.customers.map((c) => {
      let nextPurchase: number | undefined;
      const queued = this.pending[c.index].slice(this.pendingPos[c.index]);
      nextPurchase = queued.find((d) => d.type === 'order.completed' && d.at >= asOf)?.at;
      const stream = this.streams[c.index]?.clone();
      while (nextPurchase === undefined && stream) {
        const session = stream.next();
        if (!session || session.start > horizon) break;
        if (session.purchase)
          nextPurchase = session.drafts.find((d) => d.type === 'order.completed' && d.at >= asOf)?.at;
      }
      const finite = c.churnAt < Number.MAX_SAFE_INTEGER;
      return {
        customerId: c.id,
        scenario: c.scenario,
        traits: c.traits,
        churnAt: finite ? new Date(c.churnAt).toISOString() : null,
        churned: c.churnAt <= asOf,
        willChurn: c.churnAt > asOf && c.churnAt <= horizon,
        nextPurchaseAt:
          nextPurchase !== undefined && nextPurchase <= horizon ? new Date(nextPurchase).toISOString() : null,
      };
    });
  }
}

export function createPopulation(options: PopulationOptions): Population {
  return new Population(options);
}
