/**
 * A small LRU map bounded by entries and by total weight (e.g. bytes): Map keeps insertion order, so
 * re-inserting on access makes the first key the oldest. An entry heavier than `maxWeight` is not kept.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, { value: V; weight: number }>();
  private total = 0;

  constructor(
    private readonly capacity: number,
    private readonly maxWeight = Infinity,
    private readonly weigh: (value: V) => number = () => 0,
  ) {}

  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    this.delete(key);
    if (this.capacity <= 0) return;
    const weight = this.weigh(value);
    if (weight > this.maxWeight) return;
    this.map.set(key, { value, weight });
    this.total += weight;
    while (this.map.size > this.capacity || this.total > this.maxWeight) {
      const [oldest, entry] = this.map.entries().next().value as [K, { value: V; weight: number }];
      this.map.delete(oldest);
      this.total -= entry.weight;
    }
  }

  delete(key: K): void {
    const entry = this.map.get(key);
    if (entry === undefined) return;
    this.map.delete(key);
    this.total -= entry.weight;
  }

  get size(): number {
    return this.map.size;
  }

  /** The total weight of the entries kept. */
  get weight(): number {
    return this.total;
  }
}
