import { CH, Chunk } from './layout';

/**
 * The customers with any state, each with a row: for every trigger (slot index) the index of the
 * customer's state in that trigger's StateTable, or -1. One map lookup per event finds the row.
 */
export class CustomerTable {
  readonly rows = new Map<string, number>();
  /** Rows [c * Chunk.SIZE, (c + 1) * Chunk.SIZE) in chunk c (chunk 0 starts small and doubles up to Chunk.SIZE). */
  private cells: Int32Array[] = [new Int32Array(0)];
  /**
   * Per row and start group g, at g * CH.WIDTH: the customer's start events in that group, as the ids of
   * the oldest and newest (-1: none) and their count (see StartGroup); chunked like `cells`.
   */
  private chains: Float64Array[] = [new Float64Array(0)];
  /** Per row: cells that are not -1 plus non-empty chains; the row is removed when it drops to 0. */
  live = new Int32Array(0);
  ids: string[] = [];
  private capacity = 0;
  private used = 0;
  private free: number[] = [];

  /** `width`: the number of triggers; `groups`: the number of start groups. */
  constructor(
    readonly width: number,
    readonly groups = 0,
  ) {}

  add(customerId: string): number {
    let row = this.free.pop();
    if (row === undefined) {
      if (this.used === this.capacity) this.grow();
      row = this.used++;
    }
    // A row is all -1 when added: new rows are filled so, and a row is removed once it is all -1.
    this.live[row] = 0;
    this.ids[row] = customerId;
    this.rows.set(customerId, row);
    return row;
  }

  /** The state of row's customer in trigger `slot` (-1: none). */
  cell(row: number, slot: number): number {
    return this.cells[row >>> Chunk.BITS][(row & Chunk.MASK) * this.width + slot];
  }

  setCell(row: number, slot: number, state: number): void {
    this.cells[row >>> Chunk.BITS][(row & Chunk.MASK) * this.width + slot] = state;
  }

  /** Field f (CH.HEAD, CH.TAIL, CH.COUNT) of row's chain in start group g. */
  chain(row: number, g: number, f: number): number {
    return this.chains[row >>> Chunk.BITS][((row & Chunk.MASK) * this.groups + g) * CH.WIDTH + f];
  }

  setChain(row: number, g: number, f: number, v: number): void {
    this.chains[row >>> Chunk.BITS][((row & Chunk.MASK) * this.groups + g) * CH.WIDTH + f] = v;
  }

  remove(row: number): void {
    this.rows.delete(this.ids[row]);
    this.ids[row] = '';
    this.free.push(row);
  }

  private grow(): void {
    const to =
      this.capacity < Chunk.SIZE
        ? Math.min(Chunk.SIZE, Math.max(64, this.capacity * 2))
        : this.capacity + Chunk.SIZE;
    const chainWidth = this.groups * CH.WIDTH;
    if (this.capacity < Chunk.SIZE) {
      const cells = new Int32Array(to * this.width);
      cells.set(this.cells[0]);
      cells.fill(-1, this.capacity * this.width);
      this.cells[0] = cells;
      const chains = new Float64Array(to * chainWidth);
      chains.set(this.chains[0]);
      emptyChains(chains, this.capacity * this.groups, to * this.groups);
      this.chains[0] = chains;
    } else {
      this.cells.push(new Int32Array(Chunk.SIZE * this.width).fill(-1));
      this.chains.push(emptyChains(new Float64Array(Chunk.SIZE * chainWidth), 0, Chunk.SIZE * this.groups));
    }
    const live = new Int32Array(to);
    live.set(this.live);
    this.live = live;
    for (let row = this.capacity; row < to; row++) this.ids.push('');
    this.capacity = to;
  }
}

function emptyChains(chains: Float64Array, from: number, to: number): Float64Array {
  for (let c = from; c < to; c++) {
    chains[c * CH.WIDTH + CH.HEAD] = -1;
    chains[c * CH.WIDTH + CH.TAIL] = -1;
    chains[c * CH.WIDTH + CH.COUNT] = 0;
  }
  return chains;
}
