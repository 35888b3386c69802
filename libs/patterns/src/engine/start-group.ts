import {
  K_ABSENT,
  K_ALL,
  K_COUNT,
  K_EVENT,
  K_SEQUENCE,
  type CompiledNode,
  type CompiledTrigger,
} from '../compile';
import type { BoundEvent } from '../types';
import type { Cursor, EngineCore, Slot } from './core';
import { CH, Defer } from './layout';

/**
 * The start events of the deferred-start triggers that start with one event type (at most 31 of
 * them: a bit each). A trigger defers its starts when its pattern is a sequence with a window whose
 * first step is that event type without a condition, its second step not an absence, and the type
 * is in no other step: a partial match it starts is then fully described by its start event, so the
 * engine keeps that event once (not one partial match per trigger, most of which expire untouched)
 * and makes the trigger's partial matches from it only when another event of the trigger arrives for
 * the customer (or on explain and reload; a completion releases them, a checkpoint serializes them
 * as made). The result is the same as making them at the start event: they would have seen no other
 * event meanwhile. A trigger already holding partial matches for the customer takes the start event
 * at once (it could evict one, or an absence deadline could be due first).
 *
 * Entries are kept in a ring in the order they were handled (event-time order), by id (ids only
 * grow): each customer's entries are also a list (CustomerTable chains, next[]), and `consumed` has a
 * trigger's bit once it made (or dropped) its partial match from the entry. A customer keeps its
 * newest `keep` entries (maxPartialMatchesPerTrigger, or more for a count); entries leave when every
 * trigger consumed them or their longest window ended.
 *
 * A single-run count (root count, or root any of events and one count) defers the same way: its
 * one partial match is the count's events, so the start events are all it needs, and it is made by
 * feeding them to it in order when another event of the trigger arrives, or when a start event
 * brings the events in the count's window to atLeast (it completes then). A windowed root `all` of
 * plain events of distinct types is in one group per type, and defers while the customer's start
 * events for it are of one type (partial matches they start do not meet); the first of another type
 * feeds them to it in order.
 */
export class StartGroup {
  readonly members: Slot[] = [];
  maxWithinMs = 0;
  /** Bits of all members, and of the counts among them. */
  all = 0;
  counts = 0;
  /** Ids [head, end) are in the ring (some dropped: row -1). */
  head = 0;
  end = 0;
  /** A power of two: `id & mask` is id's ring position for any integer id below 2^53. */
  private capacity = 0;
  private mask = 0;
  rowOf = new Int32Array(0);
  next = new Float64Array(0);
  consumed = new Int32Array(0);
  events: Array<BoundEvent | null> = [];
  /** The events' times, read by the expiry sweep without touching the events. */
  times = new Float64Array(0);

  constructor(
    readonly type: string,
    /** Column in CustomerTable chains. */
    readonly index: number,
    /** Entries kept per customer (the newest). */
    public keep: number,
  ) {}

  /** Ring position of id. */
  at(id: number): number {
    return id & this.mask;
  }

  push(row: number, e: BoundEvent): number {
    if (this.end - this.head === this.capacity) this.grow();
    const id = this.end++;
    const k = id & this.mask;
    this.rowOf[k] = row;
    this.next[k] = -1;
    this.consumed[k] = 0;
    this.events[k] = e;
    this.times[k] = e.time;
    return id;
  }

  /** Drops an entry (it stays in the ring until it reaches the head). */
  drop(id: number): void {
    const k = id & this.mask;
    this.rowOf[k] = -1;
    this.events[k] = null;
  }

  clear(): void {
    this.head = this.end = 0;
    this.events.fill(null);
    this.rowOf.fill(-1);
  }

  private grow(): void {
    const to = Math.max(64, this.capacity * 2);
    const rowOf = new Int32Array(to).fill(-1);
    const next = new Float64Array(to);
    const consumed = new Int32Array(to);
    const events = new Array<BoundEvent | null>(to).fill(null);
    const times = new Float64Array(to);
    for (let id = this.head; id < this.end; id++) {
      const from = id & this.mask;
      const k = id & (to - 1);
      rowOf[k] = this.rowOf[from];
      next[k] = this.next[from];
      consumed[k] = this.consumed[from];
      events[k] = this.events[from];
      times[k] = this.times[from];
    }
    this.rowOf = rowOf;
    this.next = next;
    this.consumed = consumed;
    this.events = events;
    this.times = times;
    this.capacity = to;
    this.mask = to - 1;
  }
}

export function bitCount(v: number): number {
  let n = 0;
  for (let x = v >>> 0; x !== 0; x &= x - 1) n++;
  return n;
}

/**
 * How a trigger can defer (see StartGroup), or undefined: a windowed sequence by its first step; a
 * single-run count (root count, or root any of events and one count) by its count; a windowed root
 * `all` of plain events by all of them.
 */
export function deferral(
  t: CompiledTrigger,
): { nodes: CompiledNode[]; defer: number; windowMs: number } | undefined {
  const root = t.nodes[0];
  let nodes: CompiledNode[];
  let defer: number;
  if (t.singleRun) {
    nodes = t.nodes.filter((n) => n.kind === K_COUNT);
    if (nodes.length !== 1) return undefined;
    defer = Defer.COUNT;
  } else if (root.kind === K_ALL) {
    if (!(root.withinMs < Infinity) || root.children.length < 2) return undefined;
    nodes = root.children.map((c) => t.nodes[c]);
    if (nodes.some((n) => n.kind !== K_EVENT)) return undefined;
    defer = Defer.ALL;
  } else {
    if (root.kind !== K_SEQUENCE || !(root.withinMs < Infinity) || root.children.length < 2) return undefined;
    nodes = [t.nodes[root.children[0]]];
    if (nodes[0].kind !== K_EVENT || t.nodes[root.children[1]].kind === K_ABSENT) return undefined;
    defer = Defer.SEQUENCE;
  }
  for (const node of nodes)
    if (node.where !== undefined || t.nodes.some((n) => n !== node && n.type === node.type)) return undefined;
  return { nodes, defer, windowMs: defer === Defer.COUNT ? nodes[0].withinMs : root.withinMs };
}

// ---------------------------------------------------------------- a customer's chains of start events

/** Marks the customer's start events before `before` consumed by the slot (its partial matches were released). */
export function consumeStarts(core: EngineCore, cur: Cursor, slot: Slot, row: number, before: number): void {
  for (let i = 0; i < slot.groups.length; i++) {
    const g = slot.groups[i];
    for (let id = core.customers.chain(row, g.index, CH.HEAD); id >= 0; id = g.next[g.at(id)]) {
      const k = g.at(id);
      if (g.times[k] >= before) break;
      g.consumed[k] |= slot.bits[i];
    }
    dropConsumed(core, cur, g, row);
  }
}

/** Drops the customer's oldest start events while every trigger of the group consumed them. */
export function dropConsumed(core: EngineCore, cur: Cursor, g: StartGroup, row: number): void {
  const C = core.customers;
  let id = C.chain(row, g.index, CH.HEAD);
  let count = C.chain(row, g.index, CH.COUNT);
  while (id >= 0 && g.consumed[g.at(id)] === g.all) {
    const next = g.next[g.at(id)];
    g.drop(id);
    count--;
    id = next;
  }
  setChainHead(core, cur, g, row, id, count);
}

/** Sets the head (and count) of a chain; an emptied chain releases its hold on the row. */
export function setChainHead(
  core: EngineCore,
  cur: Cursor,
  g: StartGroup,
  row: number,
  head: number,
  count: number,
): void {
  const C = core.customers;
  C.setChain(row, g.index, CH.HEAD, head);
  C.setChain(row, g.index, CH.COUNT, count);
  if (head >= 0 || C.chain(row, g.index, CH.TAIL) < 0) return;
  C.setChain(row, g.index, CH.TAIL, -1);
  if (--C.live[row] === 0) {
    C.remove(row);
    if (row === cur.row) cur.row = -1;
  }
}

/** Drops start events whose longest window ended before the watermark (idle customers' too). */
export function expireStarts(core: EngineCore, cur: Cursor, w: number): void {
  for (const g of core.groups) {
    while (g.head < g.end) {
      const k = g.at(g.head);
      const row = g.rowOf[k];
      if (row >= 0) {
        if (g.times[k] + g.maxWithinMs >= w) break;
        // The oldest entry of its customer (entries leave chains from the head only).
        const next = g.next[k];
        g.drop(g.head);
        setChainHead(core, cur, g, row, next, core.customers.chain(row, g.index, CH.COUNT) - 1);
      }
      g.head++;
    }
  }
}

/** Whether the customer in `row` has start events the slot has not consumed (in groups other than `except`). */
export function hasDeferred(core: EngineCore, slot: Slot, row: number, except?: StartGroup): boolean {
  for (let i = 0; i < slot.groups.length; i++) {
    const g = slot.groups[i];
    if (g === except) continue;
    for (let id = core.customers.chain(row, g.index, CH.HEAD); id >= 0; id = g.next[g.at(id)])
      if ((g.consumed[g.at(id)] & slot.bits[i]) === 0) return true;
  }
  return false;
}
