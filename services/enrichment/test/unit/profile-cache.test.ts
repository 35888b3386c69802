import assert from 'node:assert/strict';
import type { LRUCache } from 'lru-cache';
import { boundedLru } from '../../src/domain/profile-cache';

const keys = (lru: LRUCache<string, string>, all: string[]): string[] =>
  all.filter((k) => lru.get(k) !== undefined);

const byLength = (maxEntries: number, maxBytes: number) => {
  const lru = boundedLru<string, string>(maxEntries, maxBytes, (v) => v.length);
  assert.ok(lru, 'a cache with positive bounds');
  return lru;
};

describe('profile cache (LRU bounded by entries and by weight)', () => {
  it('evicts the least recently used entry beyond the entry bound', () => {
    const lru = byLength(2, 1_000);
    lru.set('a', 'A');
    lru.set('b', 'B');
    assert.equal(lru.get('a'), 'A');
    lru.set('c', 'C');
    assert.equal(lru.size, 2);
    assert.equal(lru.get('b'), undefined);
    assert.deepEqual(keys(lru, ['a', 'b', 'c']), ['a', 'c']);
  });

  it('evicts the least recently used entries until the total weight fits, and skips one too heavy to keep', () => {
    const lru = byLength(100, 10);
    lru.set('a', 'xxxx');
    lru.set('b', 'xxxx');
    lru.get('a');
    lru.set('c', 'xxxxx');
    assert.deepEqual(keys(lru, ['a', 'b', 'c']), ['a', 'c']);
    assert.equal(lru.calculatedSize, 9);
    lru.set('d', 'x'.repeat(11));
    assert.equal(lru.get('d'), undefined);
    assert.equal(lru.calculatedSize, 9);
  });

  it('counts a replaced or deleted entry out of the weight', () => {
    const lru = byLength(100, 10);
    lru.set('a', 'xxxxxx');
    lru.set('a', 'xx');
    assert.equal(lru.calculatedSize, 2);
    lru.set('b', 'xxxxxxxx');
    assert.deepEqual(keys(lru, ['a', 'b']), ['a', 'b']);
    lru.delete('b');
    assert.equal(lru.calculatedSize, 2);
    lru.set('a', 'x'.repeat(11));
    assert.equal(lru.size, 0);
    assert.equal(lru.calculatedSize, 0);
  });

  it('keeps nothing when either bound is 0', () => {
    assert.equal(
      boundedLru<string, string>(0, 10, (v) => v.length),
      undefined,
    );
    assert.equal(
      boundedLru<string, string>(10, 0, (v) => v.length),
      undefined,
    );
  });

  it('weighs an entry whose size rounds to 0 as 1, so the byte bound still counts it', () => {
    const lru = boundedLru<string, string>(100, 2, () => 0.2);
    assert.ok(lru);
    lru.set('a', 'A');
    lru.set('b', 'B');
    lru.set('c', 'C');
    assert.deepEqual(keys(lru, ['a', 'b', 'c']), ['b', 'c']);
  });
});
