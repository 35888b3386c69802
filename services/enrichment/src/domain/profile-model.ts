import { IANAZone } from 'luxon';
import { cutInput, events, quoteInput, type profiles } from '@kairos/contracts';
import { bsonLayoutBytes, traitBytes, valueBytes, type ProfileBudget } from './profile-budget';

type Event = events.Event;
type Communication = profiles.Communication;
type Profile = profiles.Profile;
type UpsertRequest = profiles.UpsertRequest;
const { EventCategory } = events;

/** How a profile is stored in MongoDB (`profiles` collection, `_id` = customer id). */
export interface ProfileDoc {
  _id: string;
  traits: Record<string, unknown>;
  consent: { marketing: boolean; transactional: boolean };
  preferences: { preferred_channel: string; opted_out_channels: string[] };
  contacts: { email: string; phone: string; push_tokens: string[]; webhook_url: string };
  time_zone: string;
  journey_stage: string;
  counters: {
    first_seen?: Date;
    last_seen?: Date;
    total_events: number;
    /** Stored as pairs: event types contain dots, which MongoDB field paths cannot. */
    events_by_type: Array<{ t: string; n: number }>;
    purchases: number;
    lifetime_value: number;
  };
  dates: Record<string, string>;
  recent_communications: CommunicationDoc[];
  /**
   * Send time of the newest communication the bound pushed out of `recent_communications` (absent
   * while the list holds them all): the list is complete for anything later, which lets
   * orchestration check caps without a History query (a collection scan on FerretDB).
   */
  communications_trimmed_at?: Date;
  /**
   * Ids of the most recent events applied (bounded), so a redelivered event is not counted twice.
   * One space-separated string (event ids have no whitespace), because FerretDB updates a document
   * holding one string faster than one holding an array of 100 strings. Older documents hold an array.
   */
  applied_event_ids: string | string[];
  /** Optimistic-concurrency version, incremented by every write. */
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface CommunicationDoc {
  action_id: string;
  workflow: string;
  trigger: string;
  channel: string;
  status: string;
  at: Date;
  template: string;
  transactional: boolean;
}

/** Bound on `applied_event_ids`: replays of older events per customer are not detected. */
export const APPLIED_EVENT_IDS = 100;

/** The ids in `applied_event_ids`, oldest first. */
export function appliedEventIds(p: ProfileDoc): string[] {
  const ids = p.applied_event_ids;
  if (Array.isArray(ids)) return ids;
  return ids ? ids.split(' ') : [];
}

/** A bad input field; the gRPC layer turns it into INVALID_ARGUMENT naming `field`. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    // A field path may hold a caller's key (traits.<key>): cut, like any echoed input.
    super(`${cutInput(field, 100)}: ${message}`);
    this.name = 'FieldError';
  }
}

/** A change refused because it would take the profile past its size budget. */
export class BudgetError extends FieldError {
  constructor(field: string, message: string) {
    super(field, message);
    this.name = 'BudgetError';
  }
}

/** The budgets a write checks (see profile-budget.ts). */
export type WriteBudget = Pick<ProfileBudget, 'maxProfileBytes' | 'maxTraitBytes'>;

function checkTraitSize(field: string, name: string, value: unknown, budget: WriteBudget): number {
  const bytes = traitBytes(name, value);
  if (bytes > budget.maxTraitBytes)
    throw new BudgetError(
      field,
      `takes ${bytes} bytes; a trait may take at most ${budget.maxTraitBytes} bytes`,
    );
  return bytes;
}

export function newProfile(customerId: string, now: Date): ProfileDoc {
  return {
    _id: customerId,
    traits: {},
    consent: { marketing: false, transactional: true },
    preferences: { preferred_channel: '', opted_out_channels: [] },
    contacts: { email: '', phone: '', push_tokens: [], webhook_url: '' },
    time_zone: '',
    journey_stage: '',
    counters: { total_events: 0, events_by_type: [], purchases: 0, lifetime_value: 0 },
    dates: {},
    recent_communications: [],
    applied_event_ids: '',
    version: 0,
    created_at: now,
    updated_at: now,
  };
}

/**
 * A copy safe to change with this module's functions, so a failed write never leaves a half-applied
 * change in the cache. Not structuredClone, which copies every profile whole on the hot path: the parts
 * they change in place (consent, preferences, contacts, counters and their entries) are copied; traits,
 * dates and communications are only ever replaced whole, so copy and original share them.
 */
export function cloneProfile(p: ProfileDoc): ProfileDoc {
  return {
    ...p,
    consent: { ...p.consent },
    preferences: { ...p.preferences, opted_out_channels: [...p.preferences.opted_out_channels] },
    contacts: { ...p.contacts, push_tokens: [...p.contacts.push_tokens] },
    counters: { ...p.counters, events_by_type: p.counters.events_by_type.map((e) => ({ t: e.t, n: e.n })) },
  };
}

/**
 * About the BSON size of a profile (or any value of one), for the cache's byte bound: BSON's layout
 * (`bsonLayoutBytes`) counting a character as a byte. It is not BSON.calculateObjectSize, which is
 * exact but over an order of magnitude slower, because the cache weighs every profile it keeps.
 */
export function approximateBytes(v: unknown): number {
  return bsonLayoutBytes(v, charCount);
}

const charCount = (s: string): number => s.length;

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isValidIsoDate(s: string): boolean {
  const m = ISO_DATE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return (
    d.getUTCFullYear() === Number(m[1]) &&
    d.getUTCMonth() === Number(m[2]) - 1 &&
    d.getUTCDate() === Number(m[3])
  );
}

/** Zones known valid, remembered because luxon's check builds an Intl.DateTimeFormat each time. */
const validZones = new Set<string>();

export function isValidTimeZone(tz: string): boolean {
  if (tz === '' || validZones.has(tz)) return true;
  if (!IANAZone.isValidZone(tz)) return false;
  if (validZones.size < 10_000) validZones.add(tz);
  return true;
}

function validTraitKey(key: string): boolean {
  return key.length > 0 && validNestedKey(key);
}

/** A name the database stores: FerretDB refuses '.' and a leading '$', the BSON encoder NUL. */
function validNestedKey(key: string): boolean {
  return !key.includes('.') && !key.startsWith('$') && !key.includes('\0');
}

/** Deepest nesting inside a trait value (MongoDB refuses a document nested past 100 levels). */
export const MAX_TRAIT_DEPTH = 32;

/**
 * Throws a FieldError for a trait value the database cannot store: a name inside it with '.', NUL
 * or a leading '$', a number that is not finite (NaN closes FerretDB's connection), or nesting past
 * MAX_TRAIT_DEPTH. Such a write would fail every time it is retried, and the write-behind writes
 * many customers' profiles together.
 */
function checkStorable(v: unknown, field: string, depth = 1): void {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new FieldError(field, `must be a finite number, got ${v}`);
    return;
  }
  if (typeof v !== 'object' || v === null) return;
  if (depth > MAX_TRAIT_DEPTH) throw new FieldError(field, `nesting deeper than ${MAX_TRAIT_DEPTH}`);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) checkStorable(v[i], `${field}[${i}]`, depth + 1);
    return;
  }
  for (const k in v) {
    if (!validNestedKey(k))
      throw new FieldError(
        `${field}.${cutInput(k)}`,
        "names inside a trait must not contain '.' or NUL, nor start with '$'",
      );
    checkStorable((v as Record<string, unknown>)[k], `${field}.${cutInput(k)}`, depth + 1);
  }
}

/**
 * Merges traits: a null value removes the trait, anything else replaces it. Names and values are
 * checked first (see checkStorable), so nothing is merged from a patch with a bad one.
 */
export function mergeTraits(
  current: Record<string, unknown>,
  patch: Record<string, unknown>,
  fieldPrefix = 'traits',
): Record<string, unknown> {
  for (const [k, v] of Object.entries(patch)) {
    if (!validTraitKey(k))
      throw new FieldError(
        `${fieldPrefix}.${cutInput(k)}`,
        "trait names must be non-empty, without '.', NUL or a leading '$'",
      );
    checkStorable(v, `${fieldPrefix}.${cutInput(k)}`);
  }
  const next = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === undefined) delete next[k];
    else next[k] = v;
  }
  return next;
}

function mergeDates(
  current: Record<string, string>,
  patch: Record<string, unknown>,
  field: string,
): Record<string, string> {
  const next = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (!validTraitKey(k))
      throw new FieldError(
        `${field}.${k}`,
        "date names must be non-empty, without '.', NUL or a leading '$'",
      );
    if (v === null || v === undefined || v === '') delete next[k];
    else if (typeof v === 'string' && isValidIsoDate(v)) next[k] = v;
    else
      throw new FieldError(`${field}.${k}`, `expected an ISO date YYYY-MM-DD, got ${quoteInput(String(v))}`);
  }
  return next;
}

/** Sections of an UpsertRequest, in the order an over-budget error names them. */
const UPSERT_SECTIONS = ['traits', 'dates', 'contacts', 'preferences'] as const;

/**
 * Applies an UpsertRequest: traits and dates merged, other present sections replaced. A trait past
 * `maxTraitBytes`, or a result past `maxProfileBytes` that is larger than `current`, is a
 * BudgetError naming the field (the section that grew most for the whole profile).
 */
export function applyUpsert(
  current: ProfileDoc,
  req: UpsertRequest,
  now: Date,
  budget: WriteBudget,
): ProfileDoc {
  const next = cloneProfile(current);
  if (req.traits) {
    for (const [k, v] of Object.entries(req.traits))
      if (v !== null && v !== undefined) checkTraitSize(`traits.${cutInput(k)}`, k, v, budget);
    next.traits = mergeTraits(next.traits, req.traits);
  }
  if (req.consent)
    next.consent = { marketing: req.consent.marketing, transactional: req.consent.transactional };
  if (req.preferences) {
    next.preferences = {
      preferred_channel: req.preferences.preferredChannel,
      opted_out_channels: [...new Set(req.preferences.optedOutChannels)],
    };
  }
  if (req.contacts) {
    // Empty fields keep the stored value, so a client can update one contact point.
    const c = req.contacts;
    next.contacts = {
      email: c.email || next.contacts.email,
      phone: c.phone || next.contacts.phone,
      push_tokens: c.pushTokens.length ? [...new Set(c.pushTokens)] : next.contacts.push_tokens,
      webhook_url: c.webhookUrl || next.contacts.webhook_url,
    };
  }
  if (req.timeZone) {
    if (!isValidTimeZone(req.timeZone))
      throw new FieldError('time_zone', `unknown IANA time zone ${quoteInput(req.timeZone)}`);
    next.time_zone = req.timeZone;
  }
  if (req.dates && Object.keys(req.dates).length) next.dates = mergeDates(next.dates, req.dates, 'dates');
  next.updated_at = now;
  const size = valueBytes(next);
  if (size > budget.maxProfileBytes) {
    const before = valueBytes(current);
    if (size > before) {
      const growth = (k: (typeof UPSERT_SECTIONS)[number]) => valueBytes(next[k]) - valueBytes(current[k]);
      const field = UPSERT_SECTIONS.reduce((a, b) => (growth(b) > growth(a) ? b : a));
      throw new BudgetError(
        field,
        `the profile would take ${size} bytes, past its budget of ${budget.maxProfileBytes} bytes`,
      );
    }
  }
  return next;
}

/** Keys of a profile event's properties that are not traits (the documented convention). */
const PROFILE_KEYS = new Set([
  'traits',
  'email',
  'phone',
  'push_token',
  'push_tokens',
  'webhook_url',
  'consent',
  'preferred_channel',
  'opted_out_channels',
  'time_zone',
  'dates',
]);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** What applying an event's profile fields skipped. */
export interface SkippedFields {
  /** One line per skipped field: `<field>: <reason>`. */
  problems: string[];
  /** How many of them the size budget refused. */
  overBudget: number;
}

/**
 * Applies the profile fields a `profile.updated`/`identify` event carries (see README). Invalid
 * fields are skipped and reported, so one bad field does not block the rest of the event.
 *
 * Size budget: a trait past `maxTraitBytes` is skipped; traits are applied in order and one that
 * would grow the profile past `maxProfileBytes` is skipped (removals and shrinking values always
 * apply, so later, smaller traits may still fit); if the other fields (contacts, preferences,
 * dates, ...) would then take it past the budget, all of them are skipped. The event's counters
 * are not part of this: the event is still counted and enriched.
 */
export function applyProfileProperties(
  p: ProfileDoc,
  props: Record<string, unknown>,
  budget: WriteBudget,
): SkippedFields {
  const problems: string[] = [];
  let overBudget = 0;
  const attempt = (f: () => void) => {
    try {
      f();
    } catch (err) {
      problems.push((err as Error).message);
      if (err instanceof BudgetError) overBudget++;
    }
  };
  const traitPatch: Record<string, unknown> = isObject(props.traits) ? { ...props.traits } : {};
  for (const [k, v] of Object.entries(props)) if (!PROFILE_KEYS.has(k)) traitPatch[k] = v;
  let size = valueBytes(p);
  for (const [k, v] of Object.entries(traitPatch))
    attempt(() => {
      const field = `properties.traits.${cutInput(k)}`;
      const old = Object.hasOwn(p.traits, k) ? traitBytes(k, p.traits[k]) : 0;
      const bytes = v === null || v === undefined ? 0 : checkTraitSize(field, k, v, budget);
      if (bytes > old && size - old + bytes > budget.maxProfileBytes)
        throw new BudgetError(
          field,
          `not stored: the profile would take ${size - old + bytes} bytes, past its budget of ${budget.maxProfileBytes} bytes`,
        );
      p.traits = mergeTraits(p.traits, { [k]: v }, 'properties.traits');
      size += bytes - old;
    });
  const others = {
    contacts: p.contacts,
    consent: p.consent,
    preferences: p.preferences,
    time_zone: p.time_zone,
    dates: p.dates,
  };
  const othersBytes = valueBytes(others);
  p.contacts = { ...p.contacts, push_tokens: [...p.contacts.push_tokens] };
  p.consent = { ...p.consent };
  p.preferences = { ...p.preferences };
  if (str(props.email) !== undefined) p.contacts.email = str(props.email)!;
  if (str(props.phone) !== undefined) p.contacts.phone = str(props.phone)!;
  if (str(props.webhook_url) !== undefined) p.contacts.webhook_url = str(props.webhook_url)!;
  if (Array.isArray(props.push_tokens))
    p.contacts.push_tokens = [...new Set(props.push_tokens.filter((t) => typeof t === 'string'))];
  const token = str(props.push_token);
  if (token && !p.contacts.push_tokens.includes(token)) p.contacts.push_tokens.push(token);
  if (isObject(props.consent)) {
    if (typeof props.consent.marketing === 'boolean') p.consent.marketing = props.consent.marketing;
    if (typeof props.consent.transactional === 'boolean')
      p.consent.transactional = props.consent.transactional;
  }
  if (str(props.preferred_channel) !== undefined)
    p.preferences.preferred_channel = str(props.preferred_channel)!;
  if (Array.isArray(props.opted_out_channels)) {
    p.preferences.opted_out_channels = [
      ...new Set(props.opted_out_channels.filter((c) => typeof c === 'string')),
    ];
  }
  const tz = str(props.time_zone);
  if (tz !== undefined) {
    if (isValidTimeZone(tz)) p.time_zone = tz;
    else problems.push(`properties.time_zone: unknown IANA time zone '${tz}'`);
  }
  if (isObject(props.dates)) {
    for (const [k, v] of Object.entries(props.dates))
      attempt(() => (p.dates = mergeDates(p.dates, { [k]: v }, 'properties.dates')));
  }
  const grown =
    size -
    othersBytes +
    valueBytes({
      contacts: p.contacts,
      consent: p.consent,
      preferences: p.preferences,
      time_zone: p.time_zone,
      dates: p.dates,
    });
  if (grown > size && grown > budget.maxProfileBytes) {
    Object.assign(p, others);
    problems.push(
      `properties: contacts, preferences and dates not stored: the profile would take ${grown} bytes, past its budget of ${budget.maxProfileBytes} bytes`,
    );
    overBudget++;
  }
  return { problems, overBudget };
}

export interface EventRules {
  purchaseEventTypes: ReadonlySet<string>;
  profileEventTypes: ReadonlySet<string>;
  revenueProperty: string;
  budget: WriteBudget;
}

/** Categories that mean the customer was active (first/last seen). */
const ACTIVITY = new Set([
  EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
  EventCategory.EVENT_CATEGORY_UNSPECIFIED,
]);

/**
 * Applies one event to a profile copy: counters, purchases, profile fields (within the budget; see
 * applyProfileProperties). Returns undefined when the event was already applied (a redelivery or
 * a re-published duplicate).
 */
export function applyEvent(
  current: ProfileDoc,
  event: Event,
  rules: EventRules,
  now: Date,
): ({ profile: ProfileDoc } & SkippedFields) | undefined {
  const applied = appliedEventIds(current);
  if (applied.includes(event.id)) return undefined;
  const p = cloneProfile(current);
  const at = event.occurredAt ?? event.receivedAt ?? now;
  const c = p.counters;
  if (ACTIVITY.has(event.category)) {
    if (!c.first_seen || at < c.first_seen) c.first_seen = at;
    if (!c.last_seen || at > c.last_seen) c.last_seen = at;
  }
  c.total_events += 1;
  const entry = c.events_by_type.find((e) => e.t === event.type);
  if (entry) entry.n += 1;
  else c.events_by_type.push({ t: event.type, n: 1 });
  const props = (event.properties ?? {}) as Record<string, unknown>;
  if (rules.purchaseEventTypes.has(event.type)) {
    c.purchases += 1;
    const revenue = Number(props[rules.revenueProperty]);
    if (Number.isFinite(revenue)) c.lifetime_value = Math.round((c.lifetime_value + revenue) * 1e6) / 1e6;
  }
  const skipped = rules.profileEventTypes.has(event.type)
    ? applyProfileProperties(p, props, rules.budget)
    : { problems: [], overBudget: 0 };
  p.applied_event_ids = [...applied.slice(-(APPLIED_EVENT_IDS - 1)), event.id].join(' ');
  p.updated_at = now;
  return { profile: p, ...skipped };
}

/** Status order of a message's life; the embedded history keeps the furthest one per action. */
const STATUS_RANK: Record<string, number> = {
  held_out: 1,
  suppressed: 1,
  failed: 1,
  sent: 2,
  // May or may not have gone out (an interrupted at-most-once send): ranks as a send.
  unknown: 2,
  delivered: 3,
  opened: 4,
  clicked: 5,
};

/**
 * Adds a communication to the embedded recent list (newest first, bounded). One entry per action:
 * a later response (opened, clicked) upgrades the status of the entry and keeps its send time.
 * Returns undefined when nothing changes (idempotent); `trimmedAt` is the send time of the newest
 * entry the bound pushed out, if any.
 */
export function addRecentCommunication(
  list: CommunicationDoc[],
  comm: CommunicationDoc,
  bound: number,
): { list: CommunicationDoc[]; trimmedAt?: Date } | undefined {
  const existing = list.find((c) => c.action_id === comm.action_id);
  if (existing) {
    if ((STATUS_RANK[comm.status] ?? 0) <= (STATUS_RANK[existing.status] ?? 0)) return undefined;
    return {
      list: list.map((c) =>
        c === existing ? { ...c, status: comm.status, channel: comm.channel || c.channel } : c,
      ),
    };
  }
  const next = [...list, comm].sort((a, b) => b.at.getTime() - a.at.getTime());
  return next.length > bound ? { list: next.slice(0, bound), trimmedAt: next[bound].at } : { list: next };
}

export function communicationToProto(c: CommunicationDoc): Communication {
  return {
    actionId: c.action_id,
    workflow: c.workflow,
    trigger: c.trigger,
    channel: c.channel,
    status: c.status,
    at: c.at,
    template: c.template,
    transactional: c.transactional,
  };
}

export function communicationFromProto(c: Communication, fallbackAt: Date): CommunicationDoc {
  return {
    action_id: c.actionId,
    workflow: c.workflow,
    trigger: c.trigger,
    channel: c.channel,
    status: c.status,
    at: c.at ?? fallbackAt,
    template: c.template,
    transactional: c.transactional,
  };
}

export function toProto(p: ProfileDoc, journeyStage = p.journey_stage): Profile {
  const c = p.counters;
  return {
    customerId: p._id,
    traits: p.traits,
    consent: { marketing: p.consent.marketing, transactional: p.consent.transactional },
    preferences: {
      preferredChannel: p.preferences.preferred_channel,
      optedOutChannels: p.preferences.opted_out_channels,
    },
    contacts: {
      email: p.contacts.email,
      phone: p.contacts.phone,
      pushTokens: p.contacts.push_tokens,
      webhookUrl: p.contacts.webhook_url,
    },
    timeZone: p.time_zone,
    journeyStage,
    counters: {
      firstSeen: c.first_seen,
      lastSeen: c.last_seen,
      totalEvents: c.total_events,
      eventsByType: Object.fromEntries(c.events_by_type.map((e) => [e.t, e.n])),
      purchases: c.purchases,
      lifetimeValue: c.lifetime_value,
    },
    dates: p.dates,
    createdAt: p.created_at,
    updatedAt: p.updated_at,
    recentCommunications: p.recent_communications.map(communicationToProto),
    communicationsTrimmedAt: p.communications_trimmed_at,
    omittedTraits: [],
  };
}
