/** Binary min-heap with a caller-supplied order; used for buffered events and absence/window timers. */
export class MinHeap<T> {
  private items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  // Sifting moves a hole instead of swapping pairs: a destructuring swap allocates an array per step.
  push(item: T): void {
    const a = this.items;
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p];
      if (!this.less(item, parent)) break;
      a[i] = parent;
      i = p;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop() as T;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const m = r < n && this.less(a[r], a[l]) ? r : l;
        if (!this.less(a[m], last)) break;
        a[i] = a[m];
        i = m;
      }
      a[i] = last;
    }
    return top;
  }

  /** Items in heap order (not sorted); for snapshots. */
  toArray(): T[] {
    return this.items.slice();
  }

  clear(): void {
    this.items = [];
  }
}

/**
 * Min-heap of entries (at, seq, item, aux) ordered by `at`, then `seq`, kept in parallel arrays:
 * no object per entry (one per buffered event and one per absence timer were a steady stream of
 * promoted garbage). It sifts like MinHeap, so the same pushes leave entries in the same order.
 */
export class TimeQueue<T> {
  private at = new Float64Array(16);
  private seq = new Float64Array(16);
  private aux = new Int32Array(16);
  private items: Array<T | undefined> = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** `at` of the first entry; Infinity when empty. */
  peekAt(): number {
    return this.n === 0 ? Infinity : this.at[0];
  }

  peekSeq(): number {
    return this.seq[0];
  }

  peekItem(): T {
    return this.items[0] as T;
  }

  peekAux(): number {
    return this.aux[0];
  }

  push(at: number, seq: number, item: T, aux = 0): void {
    if (this.n === this.at.length) this.grow();
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!(at < this.at[p] || (at === this.at[p] && seq < this.seq[p]))) break;
      this.move(p, i);
      i = p;
    }
    this.set(i, at, seq, item, aux);
  }

  /** Removes the first entry. */
  pop(): void {
    if (this.n === 0) return;
    const last = --this.n;
    const n = this.n;
    const at = this.at[last];
    const seq = this.seq[last];
    const item = this.items[last] as T;
    const aux = this.aux[last];
    this.items[last] = undefined;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && this.less(r, l) ? r : l;
      if (!(this.at[m] < at || (this.at[m] === at && this.seq[m] < seq))) break;
      this.move(m, i);
      i = m;
    }
    this.set(i, at, seq, item, aux);
  }

  /** Entries in heap order (not sorted); for snapshots. */
  entries(): Array<{ at: number; seq: number; item: T; aux: number }> {
    const out: Array<{ at: number; seq: number; item: T; aux: number }> = [];
    for (let i = 0; i < this.n; i++)
      out.push({ at: this.at[i], seq: this.seq[i], item: this.items[i] as T, aux: this.aux[i] });
    return out;
  }

  clear(): void {
    this.n = 0;
    this.items = [];
  }

  private less(a: number, b: number): boolean {
    return this.at[a] < this.at[b] || (this.at[a] === this.at[b] && this.seq[a] < this.seq[b]);
  }

  private move(from: number, to: number): void {
    this.at[to] = this.at[from];
    this.seq[to] = this.seq[from];
    this.items[to] = this.items[from];
    this.aux[to] = this.aux[from];
  }

  private set(i: number, at: number, seq: number, item: T, aux: number): void {
    this.at[i] = at;
    this.seq[i] = seq;
    this.items[i] = item;
    this.aux[i] = aux;
  }

  private grow(): void {
    const cap = this.at.length * 2;
    const at = new Float64Array(cap);
    at.set(this.at);
    this.at = at;
    const seq = new Float64Array(cap);
    seq.set(this.seq);
    this.seq = seq;
    const aux = new Int32Array(cap);
    aux.set(this.aux);
    this.aux = aux;
  }
}
