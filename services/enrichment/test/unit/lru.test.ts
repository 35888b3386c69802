import assert from 'node:assert/strict';
import { Lru } from '../../src/domain/lru';

const keys = (lru: Lru<string, string>, all: string[]): string[] =>
  all.filter((k) => lru.get(k) !== undefined);

describe('profile cache (LRU bounded by entries and by weight)', () => {
  it('evicts the least recently used entry beyond the entry bound', () => {
    const lru = new Lru<string, string>(2);
    lru.set('a', 'A');
    lru.set('b', 'B');
    assert.equal(lru.get('a'), 'A');
    lru.set('c', 'C');
    assert.equal(lru.size, 2);
    assert.equal(lru.get('b'), undefined);
    assert.deepEqual(keys(lru, ['a', 'b', 'c']), ['a', 'c']);
  });

  it('evicts the least recently used entries until the total weight fits, and skips one too heavy to keep', () => {
    const lru = new Lru<string, string>(100, 10, (v) => v.length);
    lru.set('a', 'xxxx');
    lru.set('b', 'xxxx');
    lru.get('a');
    lru.set('c', 'xxxxx');
    assert.deepEqual(keys(lru, ['a', 'b', 'c']), ['a', 'c']);
    assert.equal(lru.weight, 9);
    lru.set('d', 'x'.repeat(11));
    assert.equal(lru.get('d'), undefined);
    assert.equal(lru.weight, 9);
  });

  it('counts a replaced or deleted entry out of the weight', () => {
    const lru = new Lru<string, string>(100, 10, (v) => v.length);
    lru.set('a', 'xxxxxx');
    lru.set('a', 'xx');
    assert.equal(lru.weight, 2);
    lru.set('b', 'xxxxxxxx');
    assert.deepEqual(keys(lru, ['a', 'b']), ['a', 'b']);
    lru.delete('b');
    assert.equal(lru.weight, 2);
    lru.set('a', 'x'.repeat(11));
    assert.equal(lru.size, 0);
    assert.equal(lru.weight, 0);
  });

  it('keeps nothing when its entry bound is 0', () => {
    const lru = new Lru<string, string>(0, 10, (v) => v.length);
    lru.set('a', 'x');
    assert.equal(lru.size, 0);
  });
});
