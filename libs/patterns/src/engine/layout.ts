/**
 * The field layout of the engine's flat tables: a name for every offset. All are `const enum`s, so
 * the compiler writes their values into the code that uses them (no lookup at run time). A table's
 * fields are numbered in order from 0 by the compiler, and its last member (STRIDE, WIDTH) is then
 * their count, so adding a field keeps the offsets contiguous and the width right.
 */

/** A node's status in a run (N.STATUS). */
export const enum Status {
  PENDING,
  DONE,
  DEAD,
}

/**
 * A run's entry for one node, at `at(r) + node * N.STRIDE` in its RunArena numbers. The entry's own
 * offset holds its status, so code indexes the status as `n[b]` (b: the entry) and the other fields
 * as `n[b + N.…]`.
 */
export const enum N {
  STATUS,
  /** Time of the node's first event (absence: the start of the quiet time); NaN if none yet. */
  START,
  /** Sequence: the step it waits on; any: the position of the winning child. */
  AUX,
  /** Time the node completed (NaN until then). */
  DONE_AT,
  /** Numbers per node. */
  STRIDE,
}

/**
 * A run's numbers before its node entries, as offsets from `at(r)` (they are negative: the META
 * numbers come first, so walking a state's runs (status, expiry, link) touches one cache line).
 */
export const enum R {
  /** The run's sequence number within its trigger state (creation order, for checkpoints). */
  SEQ = -5,
  /** Its next absence deadline (Infinity if none), */
  DEADLINE = -4,
  /** the sequence node waiting on that deadline (-1 if none), */
  DEADLINE_NODE = -3,
  /** the time after which it can no longer complete (a window ended; Infinity if unbounded), */
  EXPIRY = -2,
  /** and the next run of its trigger state, or of the free list (-1 ends a list). */
  NEXT = -1,
  /** How many META numbers there are. */
  META = 5,
  /** R.NEXT counted from the start of the run's row (META + NEXT). */
  NEXT_IN_ROW = META + NEXT,
}

/**
 * A trigger state's fields, in one Float64Array row of its StateTable (integers are exact in
 * doubles; one row rather than hot and cold arrays: expiry reads both kinds, and each array was a
 * cache miss of its own).
 */
export const enum S {
  /** Its runs, oldest first, as a list through the runs' R.NEXT: first, last, and how many. */
  FIRST,
  LAST,
  RUNS,
  /** Its customer's row in the CustomerTable. */
  ROW,
  /**
   * The time until which it keeps bookkeeping that outlives its runs (-Infinity: none): its last
   * firing until the cooldown ends, and that firing, a suppressed match or a failed condition for
   * `explain` during the retention time after it (PatternEngineOptions.explainRetentionMs).
   */
  KEPT,
  /** The seq of its next run. */
  RUN_SEQ,
  /** The time of its live timer entry (Infinity: none). */
  TIMER_AT,
  /** The expiry bucket it is queued in (Expiry.NO_BUCKET: none; at most its earliest run expiry's). */
  BUCKET,
  /** Its last firing time (NaN: never). */
  LAST_FIRED,
  /** Its timer entry's sequence number (-1: none). */
  TIMER_SEQ,
  /** Its neighbours in its expiry bucket (queue ids, -1: none; see expiry-queue.ts). */
  BUCKET_NEXT,
  BUCKET_PREV,
  /** Fields per state. */
  WIDTH,
}

/** A customer's chain in one start group (CustomerTable.chain). */
export const enum CH {
  /** Oldest and newest start event id (-1: none), */
  HEAD,
  TAIL,
  /** and their count. */
  COUNT,
  /** Fields per chain. */
  WIDTH,
}

/**
 * Runs, states and customer rows per chunk of their tables, a power of two: tables grow by whole
 * chunks instead of doubling, which copied them and touched twice the memory.
 */
export const enum Chunk {
  BITS = 10,
  SIZE = 1 << BITS,
  MASK = SIZE - 1,
}

/** How a trigger defers its starts (Slot.defer): not, a sequence's first step, a single-run count, an `all`. */
export const enum Defer {
  NONE,
  SEQUENCE,
  COUNT,
  ALL,
}

export const enum Expiry {
  /** Width of an expiry bucket: partial matches are dropped once the watermark passes their bucket. */
  BUCKET_MS = 1000,
  /** A trigger state's S.BUCKET when it is in no bucket (-(2 ** 30)). */
  NO_BUCKET = -1073741824,
}
