import { LRUCache } from 'lru-cache';

/**
 * An LRU cache bounded both by its number of entries and by the total of `sizeOf` over them (for
 * profiles, their estimated BSON bytes). Reading an entry makes it the most recently used; a write
 * that breaks a bound evicts the least recently used entries until both hold, and an entry larger
 * than `maxBytes` on its own is not kept (it replaces, and so removes, any entry under its key).
 * It returns undefined, meaning "cache nothing", when either bound is 0.
 *
 * The cache allocates its index for `maxEntries` entries up front, so memory for the index is
 * spent at start, not as the cache fills.
 */
export function boundedLru<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(
  maxEntries: number,
  maxBytes: number,
  sizeOf: (value: V) => number,
): LRUCache<K, V> | undefined {
  const max = Math.floor(maxEntries);
  const maxSize = Math.min(Math.floor(maxBytes), Number.MAX_SAFE_INTEGER);
  if (max <= 0 || maxSize <= 0) return undefined;
  return new LRUCache<K, V>({
    max,
    maxSize,
    // lru-cache requires a positive integer size.
    sizeCalculation: (value) => Math.max(1, Math.ceil(sizeOf(value))),
  });
}
