import type { BoundEvent } from '../types';
import { growChunks } from './chunks';
import { Chunk, N, R, Status } from './layout';

/** What a run holds for an event or count node (see RunArena). */
export type Held = BoundEvent | BoundEvent[] | null;

/**
 * The partial matches (runs) of one trigger, for all customers, in flat arrays: a run is an index.
 * Run objects with their own arrays were most of the engine's long-lived objects, so most of its
 * garbage-collection time; numbers in a Float64Array are not even scanned.
 *
 * Run r: numbers numsOf(r)[at(r) + node * N.STRIDE + N.…] and, before them, the R.META numbers at
 * at(r) + R.… (see layout.ts); events evsOf(r)[evAt(r) + evSlot[node]] for the event and count
 * nodes only (event node: its event; count node: the events in its window, the event itself while
 * it is the only one: most counts hold one, and an array each was a lot of objects).
 * A link read from the numbers is truncated with `| 0` so run indexes stay small integers (a double
 * is boxed when passed around).
 * Released runs are kept reset; runs from `used` on were never handed out.
 */
export class RunArena {
  /** Numbers per run: R.META, then the node entries. */
  readonly width: number;
  /** Numbers of the node entries (nodes * N.STRIDE). */
  readonly nodeNums: number;
  /** Chunk c holds runs [c * Chunk.SIZE, (c + 1) * Chunk.SIZE); chunk 0 starts small and doubles up to a chunk. */
  private numChunks: Float64Array[] = [new Float64Array(0)];
  private evChunks: Held[][] = [[]];
  private capacity = 0;
  private used = 0;
  private free = -1;

  /** `events`: how many nodes hold events (CompiledTrigger.evNodes). */
  constructor(
    nodes: number,
    readonly events: number,
  ) {
    this.nodeNums = nodes * N.STRIDE;
    this.width = this.nodeNums + R.META;
  }

  /** The array holding run r's numbers, from index at(r). */
  numsOf(r: number): Float64Array {
    return this.numChunks[r >>> Chunk.BITS];
  }

  at(r: number): number {
    return (r & Chunk.MASK) * this.width + R.META;
  }

  /** The array holding run r's events, from index evAt(r). */
  evsOf(r: number): Held[] {
    return this.evChunks[r >>> Chunk.BITS];
  }

  evAt(r: number): number {
    return (r & Chunk.MASK) * this.events;
  }

  alloc(): number {
    const r = this.free;
    if (r >= 0) {
      this.free = this.next(r);
      return r;
    }
    if (this.used === this.capacity) this.grow();
    this.reset(this.used);
    return this.used++;
  }

  release(r: number): void {
    this.reset(r);
    this.setNext(r, this.free);
    this.free = r;
  }

  next(r: number): number {
    return this.numChunks[r >>> Chunk.BITS][(r & Chunk.MASK) * this.width + R.NEXT_IN_ROW] | 0;
  }

  setNext(r: number, next: number): void {
    this.numChunks[r >>> Chunk.BITS][(r & Chunk.MASK) * this.width + R.NEXT_IN_ROW] = next;
  }

  reset(r: number): void {
    const n = this.numsOf(r);
    const base = this.at(r);
    for (let b = base; b < base + this.nodeNums; b += N.STRIDE) {
      n[b] = Status.PENDING;
      n[b + N.START] = NaN;
      n[b + N.AUX] = 0;
      n[b + N.DONE_AT] = NaN;
    }
    n[base + R.SEQ] = 0;
    n[base + R.DEADLINE] = Infinity;
    n[base + R.DEADLINE_NODE] = -1;
    n[base + R.EXPIRY] = Infinity;
    // A loop: Array.prototype.fill over a range costs more than these few stores.
    const evs = this.evsOf(r);
    for (let k = this.evAt(r), end = k + this.events; k < end; k++) evs[k] = null;
  }

  private grow(): void {
    const from = this.capacity;
    this.capacity = growChunks(this.numChunks, from, this.width);
    // The event slots follow the numbers' chunks.
    if (from < Chunk.SIZE) this.evChunks[0] = growEvents(this.evChunks[0], this.capacity * this.events);
    else this.evChunks.push(growEvents([], Chunk.SIZE * this.events));
  }
}

/** `evs` lengthened to `length` with nulls (one resize: pushing one by one reallocates several times). */
function growEvents(evs: Held[], length: number): Held[] {
  const from = evs.length;
  evs.length = length;
  for (let k = from; k < length; k++) evs[k] = null;
  return evs;
}

/** The events a count node holds (see RunArena). */
export function counted(held: Held): BoundEvent[] {
  return held === null ? [] : Array.isArray(held) ? held : [held];
}
