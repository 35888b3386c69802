/**
 * Online per-customer features on EVENT time. Pure: no I/O, no clock; every method takes the time
 * it is asked about.
 *
 * Windows are whole UTC days: the `w`-day window as of time `t` holds the events of the `w` days
 * ending with `t`'s day (day(t) − w + 1 … day(t)). Each customer keeps a ring of `RING_DAYS` day
 * buckets per counter, so any window up to `RING_DAYS` days is exact. A late event (older than the
 * newest event seen for the customer) lands in its own day's bucket while that day is still in the
 * ring; an event older than the ring only updates lifetime totals (counted in `lateBeyondRing`).
 * Sessions start at an activity more than `SESSION_GAP_MS` after the latest activity seen; a late
 * event never starts a session (it belongs to a session already counted, or to one we missed).
 */

export const DAY_MS = 86_400_000;
export const RING_DAYS = 91;
export const SESSION_GAP_MS = 30 * 60_000;

/** Counters kept per day (index into the ring's channel dimension). */
export const enum Ch {
  Events = 0,
  Sessions = 1,
  Orders = 2,
  Logins = 3,
  Tickets = 4,
  FailedPayments = 5,
  Engagement = 6,
}
const COUNT_CHANNELS = 7;

/** The event as the feature store needs it. */
export interface FeatureEvent {
  customerId: string;
  type: string;
  /** Event time, epoch ms. */
  at: number;
  /** Order value for `order.completed`, when present. */
  revenue?: number;
  /** `predicted` events are not customer activity and are ignored. */
  category?: string;
}

export type EventKind =
  'order' | 'login' | 'ticket' | 'failed_payment' | 'engagement' | 'activity' | 'ignore';

/** How an event type counts. Unknown types are plain activity. */
export function eventKind(type: string, category?: string): EventKind {
  if (category === 'predicted' || type.endsWith('.predicted')) return 'ignore';
  switch (type) {
    case 'order.completed':
    case 'purchase':
      return 'order';
    case 'user.login':
      return 'login';
    case 'support.ticket_opened':
      return 'ticket';
    case 'payment.failed':
      return 'failed_payment';
    case 'email.opened':
    case 'message.opened':
    case 'message.clicked':
      return 'engagement';
    default:
      return category === 'system' ? 'ignore' : 'activity';
  }
}

/**
 * A customer's feature state. Footprint: 7 × 91 Uint16 day counters (1,274 bytes) + 91 Float32
 * revenue buckets (364) + 24 Uint16 engagement-hour counts (48) + 24 Uint16 activity-hour counts
 * (48) + ~16 numbers and the object/id overhead: about `CUSTOMER_STATE_BYTES`.
 */
export interface CustomerFeatureState {
  id: string;
  /** First and latest activity (event time). NaN before any. */
  firstAt: number;
  lastAt: number;
  firstOrderAt: number;
  lastOrderAt: number;
  lastLoginAt: number;
  /** Lifetime totals (not windowed). */
  sessions: number;
  orders: number;
  revenue: number;
  /** Newest day held by the ring (UTC day number). */
  headDay: number;
  counts: Uint16Array;
  revenueByDay: Float32Array;
  /** Opens/clicks by UTC hour, and session starts by UTC hour (for send-time optimisation). */
  engagementHours: Uint16Array;
  activityHours: Uint16Array;
  /** Events older than the ring, counted only in lifetime totals. */
  lateBeyondRing: number;
}

export const CUSTOMER_STATE_BYTES = 7 * RING_DAYS * 2 + RING_DAYS * 4 + 96 + 16 * 8 + 160;

export const dayOf = (t: number) => Math.floor(t / DAY_MS);

export function newCustomerState(id: string): CustomerFeatureState {
  return {
    id,
    firstAt: NaN,
    lastAt: NaN,
    firstOrderAt: NaN,
    lastOrderAt: NaN,
    lastLoginAt: NaN,
    sessions: 0,
    orders: 0,
    revenue: 0,
    headDay: NaN,
    counts: new Uint16Array(COUNT_CHANNELS * RING_DAYS),
    revenueByDay: new Float32Array(RING_DAYS),
    engagementHours: new Uint16Array(24),
    activityHours: new Uint16Array(24),
    lateBeyondRing: 0,
  };
}

const slot = (day: number) => ((day % RING_DAYS) + RING_DAYS) % RING_DAYS;
const bump = (a: Uint16Array, i: number) => {
  if (a[i] < 0xffff) a[i]++;
};

/** Moves the ring's head forward to `day`, clearing the days it passes. */
function advanceRing(s: CustomerFeatureState, day: number): void {
  if (Number.isNaN(s.headDay)) {
    s.headDay = day;
    return;
  }
  if (day <= s.headDay) return;
  const clear = Math.min(RING_DAYS, day - s.headDay);
  for (let d = s.headDay + 1; d <= s.headDay + clear; d++) {
    const k = slot(d);
    for (let c = 0; c < COUNT_CHANNELS; c++) s.counts[c * RING_DAYS + k] = 0;
    s.revenueByDay[k] = 0;
  }
  s.headDay = day;
}

/** Applies one event. Returns false when the event is ignored (not activity). */
export function applyEvent(s: CustomerFeatureState, e: FeatureEvent): boolean {
  const kind = eventKind(e.type, e.category);
  if (kind === 'ignore' || !Number.isFinite(e.at)) return false;
  const day = dayOf(e.at);
  advanceRing(s, day);
  const inRing = day > s.headDay - RING_DAYS;
  const k = slot(day);
  const count = (c: Ch) => {
    if (inRing) bump(s.counts, c * RING_DAYS + k);
  };
  const hour = Math.floor((e.at % DAY_MS) / 3_600_000);
  if (!inRing) s.lateBeyondRing++;
  count(Ch.Events);
  const late = e.at < s.lastAt;
  if (Number.isNaN(s.lastAt) || e.at - s.lastAt > SESSION_GAP_MS) {
    s.sessions++;
    count(Ch.Sessions);
    bump(s.activityHours, hour);
  }
  if (Number.isNaN(s.firstAt) || e.at < s.firstAt) s.firstAt = e.at;
  if (!late) s.lastAt = e.at;
  switch (kind) {
    case 'order': {
      s.orders++;
      const revenue = Number.isFinite(e.revenue) && e.revenue! > 0 ? e.revenue! : 0;
      s.revenue += revenue;
      count(Ch.Orders);
      if (inRing) s.revenueByDay[k] += revenue;
      if (Number.isNaN(s.firstOrderAt) || e.at < s.firstOrderAt) s.firstOrderAt = e.at;
      if (Number.isNaN(s.lastOrderAt) || e.at > s.lastOrderAt) s.lastOrderAt = e.at;
      break;
    }
    case 'login':
      count(Ch.Logins);
      if (Number.isNaN(s.lastLoginAt) || e.at > s.lastLoginAt) s.lastLoginAt = e.at;
      break;
    case 'ticket':
      count(Ch.Tickets);
      break;
    case 'failed_payment':
      count(Ch.FailedPayments);
      break;
    case 'engagement':
      count(Ch.Engagement);
      bump(s.engagementHours, hour);
      break;
  }
  return true;
}

/** Sum of channel `c` over the `w`-day window ending with `asOf`'s day (days older than the ring count as 0). */
export function windowCount(s: CustomerFeatureState, c: Ch, w: number, asOf: number): number {
  return sumDays(s, w, asOf, (k) => s.counts[c * RING_DAYS + k]);
}

export function windowRevenue(s: CustomerFeatureState, w: number, asOf: number): number {
  return sumDays(s, w, asOf, (k) => s.revenueByDay[k]);
}

function sumDays(s: CustomerFeatureState, w: number, asOf: number, at: (k: number) => number): number {
  if (Number.isNaN(s.headDay)) return 0;
  const last = Math.min(dayOf(asOf), s.headDay);
  const first = Math.max(dayOf(asOf) - w + 1, s.headDay - RING_DAYS + 1);
  let sum = 0;
  for (let d = first; d <= last; d++) sum += at(slot(d));
  return sum;
}

/** Names of the model features, in vector order. */
export const FEATURE_NAMES = [
  'days_since_last_activity',
  'silence_vs_usual_gap',
  'sessions_7d',
  'sessions_30d',
  'sessions_90d',
  'events_30d',
  'orders_30d',
  'orders_90d',
  'revenue_90d',
  'session_trend',
  'purchase_trend',
  'days_since_login',
  'days_since_order',
  'support_tickets_30d',
  'failed_payments_30d',
  'engagement_30d',
  'customer_age_days',
  'bgnbd_frequency',
  'bgnbd_recency_days',
  'bgnbd_T_days',
  'lifetime_sessions_per_day',
  'lifetime_orders_per_day',
  'sessions_7d_vs_lifetime',
  'sessions_14d_vs_lifetime',
  'sessions_missed',
  'sessions_missed_recent_rate',
  'sessions_3d_vs_lifetime',
  'sessions_28d_vs_lifetime',
  'sessions_7d_vs_prior_21d',
  'session_drop_deviance',
  'sessions_ewma_3d_vs_lifetime',
  'sessions_ewma_7d_vs_lifetime',
] as const;
export const FEATURE_COUNT = FEATURE_NAMES.length;

const l1p = Math.log1p;

/**
 * BG/NBD inputs, in days, with the customer "born" at its first activity: x = purchases after
 * birth (a purchase at the very first activity is the birth, as in a pure purchase log), t_x =
 * birth → last purchase (0 when x = 0), T = birth → asOf.
 */
export function rfmSummary(s: CustomerFeatureState, asOf: number): { x: number; tx: number; T: number } {
  if (Number.isNaN(s.firstAt) || s.firstAt > asOf) return { x: 0, tx: 0, T: 0 };
  const x = Math.max(0, s.orders - (s.firstOrderAt === s.firstAt ? 1 : 0));
  return {
    x,
    tx: x > 0 ? Math.max(0, (s.lastOrderAt - s.firstAt) / DAY_MS) : 0,
    T: Math.max(0, (asOf - s.firstAt) / DAY_MS),
  };
}

/**
 * The feature vector as of `asOf` (log-scaled counts and durations; a model standardises them). The
 * caller must only have applied events up to `asOf` for the windows to mean "up to asOf".
 */
export function featureVector(s: CustomerFeatureState, asOf: number, out = new Float64Array(FEATURE_COUNT)) {
  const days = (from: number, fallback: number) =>
    Number.isNaN(from) ? fallback : Math.max(0, (asOf - from) / DAY_MS);
  const age = days(s.firstAt, 0);
  const recency = days(s.lastAt, age);
  const s7 = windowCount(s, Ch.Sessions, 7, asOf);
  const s30 = windowCount(s, Ch.Sessions, 30, asOf);
  const s90 = windowCount(s, Ch.Sessions, 90, asOf);
  const o30 = windowCount(s, Ch.Orders, 30, asOf);
  const o90 = windowCount(s, Ch.Orders, 90, asOf);
  const usualGap = (Math.max(age, 1) + 1) / (s.sessions + 1);
  const rfm = rfmSummary(s, asOf);
  let i = 0;
  out[i++] = l1p(recency);
  out[i++] = l1p(recency / usualGap);
  out[i++] = l1p(s7);
  out[i++] = l1p(s30);
  out[i++] = l1p(s90);
  out[i++] = l1p(windowCount(s, Ch.Events, 30, asOf));
  out[i++] = l1p(o30);
  out[i++] = l1p(o90);
  out[i++] = l1p(windowRevenue(s, 90, asOf));
  // Trends: the last 7 days' daily rate against the 30-day rate (log ratio, smoothed).
  out[i++] = Math.log((s7 / 7 + 0.1) / (s30 / Math.min(30, Math.max(age, 1)) + 0.1));
  out[i++] = Math.log((o30 / 30 + 0.01) / (o90 / Math.min(90, Math.max(age, 1)) + 0.01));
  out[i++] = l1p(days(s.lastLoginAt, age + 30));
  out[i++] = l1p(days(s.lastOrderAt, age + 30));
  out[i++] = l1p(windowCount(s, Ch.Tickets, 30, asOf));
  out[i++] = l1p(windowCount(s, Ch.FailedPayments, 30, asOf));
  out[i++] = l1p(windowCount(s, Ch.Engagement, 30, asOf));
  out[i++] = l1p(age);
  out[i++] = l1p(rfm.x);
  out[i++] = l1p(rfm.tx);
  out[i++] = l1p(rfm.T);
  out[i++] = Math.log((s.sessions + 0.5) / (Math.max(age, 1) + 1));
  out[i++] = Math.log((s.orders + 0.5) / (Math.max(age, 1) + 1));
  // Recent sessions against what the customer's lifetime rate predicts for the period: a fade
  // shows here before the silence does.
  const rate = s.sessions / Math.max(age, 1);
  out[i++] = Math.log((s7 + 0.5) / (rate * Math.min(7, Math.max(age, 1)) + 0.5));
  out[i++] = Math.log(
    (windowCount(s, Ch.Sessions, 14, asOf) + 0.5) / (rate * Math.min(14, Math.max(age, 1)) + 0.5),
  );
  // Sessions the silence has cost, at the lifetime and at the last 90 days' rate. For a customer
  // still there, silence is a Poisson gap: its log-likelihood falls linearly with these (e^(−λd)),
  // so they enter raw, not logged (capped: beyond, the customer has left either way).
  out[i++] = Math.min(20, rate * recency);
  out[i++] = Math.min(20, (s90 / Math.min(90, Math.max(age, 1))) * recency);
  // The fade at several scales: the last 3 and 28 days against the lifetime rate, and the last
  // week against the three weeks before it.
  const s3 = windowCount(s, Ch.Sessions, 3, asOf);
  const s28 = windowCount(s, Ch.Sessions, 28, asOf);
  out[i++] = Math.log((s3 + 0.5) / (rate * Math.min(3, Math.max(age, 1)) + 0.5));
  out[i++] = Math.log((s28 + 0.5) / (rate * Math.min(28, Math.max(age, 1)) + 0.5));
  out[i++] = Math.log((s7 / 7 + 0.05) / ((s28 - s7) / Math.max(1, Math.min(21, age - 7)) + 0.05));
  out[i++] = sessionDropDeviance(s.sessions, age, [s3, s7, windowCount(s, Ch.Sessions, 14, asOf), s28], age);
  const prior = Math.max(0, s.sessions - s28) / Math.max(1, age - 28);
  out[i++] = Math.log((sessionEwma(s, 3, asOf) + 0.05) / (prior + 0.05));
  out[i++] = Math.log((sessionEwma(s, 7, asOf) + 0.05) / (prior + 0.05));
  return out;
}

/**
 * Sessions per day over the last 28 days, each day weighted by 2^(−age/halfLife) (the current day
 * weighs 1): a recent rate that follows a fade faster than a fixed window.
 */
export function sessionEwma(s: CustomerFeatureState, halfLife: number, asOf: number): number {
  if (Number.isNaN(s.headDay)) return 0;
  const today = dayOf(asOf);
  const oldest = Math.max(
    today - 27,
    s.headDay - RING_DAYS + 1,
    dayOf(Number.isNaN(s.firstAt) ? asOf : s.firstAt),
  );
  const decay = Math.pow(2, -1 / halfLife);
  let sum = 0;
  let weights = 0;
  let w = 1;
  for (let d = today; d >= oldest; d--, w *= decay) {
    if (d <= s.headDay) sum += w * s.counts[Ch.Sessions * RING_DAYS + slot(d)];
    weights += w;
  }
  return weights ? sum / weights : 0;
}

const DROP_WINDOWS = [3, 7, 14, 28];

/**
 * The strongest evidence that the customer's session rate has dropped recently: for each recent
 * window of w days, the Poisson deviance of its n sessions against the e the customer's rate
 * before the window predicts, 2·(n·ln(n/e) − n + e), counted only for a deficit (n < e); the
 * largest over the windows. 0 when nothing is missing or the customer is too young to compare.
 */
export function sessionDropDeviance(
  lifetimeSessions: number,
  lifetimeDays: number,
  recent: readonly number[],
  age: number,
): number {
  let best = 0;
  for (let k = 0; k < DROP_WINDOWS.length; k++) {
    const w = DROP_WINDOWS[k];
    const before = age - w;
    if (before < w) continue;
    const n = recent[k];
    const e = (Math.max(0, lifetimeSessions - n) / before) * w;
    if (!(n < e)) continue;
    const d = 2 * ((n > 0 ? n * Math.log(n / e) : 0) - n + e);
    if (d > best) best = d;
  }
  return Math.log1p(best);
}

/** A JSON-safe copy of the state, for checkpoints. */
export function serializeState(s: CustomerFeatureState): Record<string, unknown> {
  const num = (x: number) => (Number.isNaN(x) ? null : x);
  return {
    id: s.id,
    firstAt: num(s.firstAt),
    lastAt: num(s.lastAt),
    firstOrderAt: num(s.firstOrderAt),
    lastOrderAt: num(s.lastOrderAt),
    lastLoginAt: num(s.lastLoginAt),
    sessions: s.sessions,
    orders: s.orders,
    revenue: s.revenue,
    headDay: num(s.headDay),
    counts: Buffer.from(s.counts.buffer, s.counts.byteOffset, s.counts.byteLength).toString('base64'),
    revenueByDay: Buffer.from(
      s.revenueByDay.buffer,
      s.revenueByDay.byteOffset,
      s.revenueByDay.byteLength,
    ).toString('base64'),
    engagementHours: Array.from(s.engagementHours),
    activityHours: Array.from(s.activityHours),
    lateBeyondRing: s.lateBeyondRing,
  };
}

export function deserializeState(o: Record<string, unknown>): CustomerFeatureState {
  const num = (x: unknown) => (typeof x === 'number' ? x : NaN);
  const s = newCustomerState(String(o.id));
  s.firstAt = num(o.firstAt);
  s.lastAt = num(o.lastAt);
  s.firstOrderAt = num(o.firstOrderAt);
  s.lastOrderAt = num(o.lastOrderAt);
  s.lastLoginAt = num(o.lastLoginAt);
  s.sessions = Number(o.sessions) || 0;
  s.orders = Number(o.orders) || 0;
  s.revenue = Number(o.revenue) || 0;
  s.headDay = num(o.headDay);
  const counts = Buffer.from(String(o.counts), 'base64');
  s.counts.set(
    new Uint16Array(counts.buffer.slice(counts.byteOffset, counts.byteOffset + counts.byteLength)),
  );
  const rev = Buffer.from(String(o.revenueByDay), 'base64');
  s.revenueByDay.set(new Float32Array(rev.buffer.slice(rev.byteOffset, rev.byteOffset + rev.byteLength)));
  s.engagementHours.set((o.engagementHours as number[]) ?? []);
  s.activityHours.set((o.activityHours as number[]) ?? []);
  s.lateBeyondRing = Number(o.lateBeyondRing) || 0;
  return s;
}

/**
 * Customer states bounded in bytes: least recently updated customers are evicted first (a Map keeps
 * insertion order; touching re-inserts). An evicted customer restarts cold if it comes back.
 */
export class FeatureStore {
  private readonly states = new Map<string, CustomerFeatureState>();
  evicted = 0;
  /** `onEvict` lets the owner drop what it keeps per customer beside the features (gates). */
  constructor(
    readonly maxBytes: number,
    private readonly onEvict?: (id: string) => void,
  ) {}

  get size(): number {
    return this.states.size;
  }
  get bytes(): number {
    return this.states.size * CUSTOMER_STATE_BYTES;
  }
  get maxCustomers(): number {
    return Math.max(1, Math.floor(this.maxBytes / CUSTOMER_STATE_BYTES));
  }
  get(id: string): CustomerFeatureState | undefined {
    return this.states.get(id);
  }
  /** The customer's state, created if needed and marked most recently used. */
  touch(id: string): CustomerFeatureState {
    let s = this.states.get(id);
    if (s) this.states.delete(id);
    else {
      s = newCustomerState(id);
      while (this.states.size >= this.maxCustomers) {
        const oldest = this.states.keys().next().value as string;
        this.states.delete(oldest);
        this.evicted++;
        this.onEvict?.(oldest);
      }
    }
    this.states.set(id, s);
    return s;
  }
  values(): IterableIterator<CustomerFeatureState> {
    return this.states.values();
  }
  /** Forgets a customer (erasure); true when it had state. */
  delete(id: string): boolean {
    const had = this.states.delete(id);
    if (had) this.onEvict?.(id);
    return had;
  }
  set(s: CustomerFeatureState): void {
    this.states.set(s.id, s);
  }
}
