import assert from 'node:assert/strict';
import { fnv1a32, partitionOf, partitionsOwnedBy } from '../../src/partition';
import { partitionOfSubject, subjects } from '../../src/subjects';
import { EventCategory } from '../../src/gen/kairos/events/v1/events';

describe('partitionOf (FNV-1a 32-bit)', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  });

  it('hashes the UTF-8 bytes, not UTF-16 code units', () => {
    // 'é' is two UTF-8 bytes (0xC3 0xA9).
    let h = 0x811c9dc5;
    for (const b of [0xc3, 0xa9]) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    assert.equal(fnv1a32('é'), h);
  });

  it('maps a customer to the same partition every time, within range', () => {
    assert.equal(partitionOf('customer-42', 16), fnv1a32('customer-42') % 16);
    for (let i = 0; i < 1000; i++) {
      const p = partitionOf(`c${i}`, 16);
      assert.ok(p >= 0 && p < 16);
    }
  });

  it('spreads customers across partitions', () => {
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[partitionOf(`customer-${i}`, 16)]++;
    for (const c of counts) assert.ok(c > 800 && c < 1200, `uneven partition count ${c}`);
  });

  it('rejects a non-positive partition count', () => {
    assert.throws(() => partitionOf('x', 0), /positive integer/);
  });

  it('splits partitions across replicas by ordinal', () => {
    assert.deepEqual(partitionsOwnedBy(1, 3, 8), [1, 4, 7]);
    assert.deepEqual(
      [0, 1, 2].flatMap((o) => partitionsOwnedBy(o, 3, 8)).sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    assert.throws(() => partitionsOwnedBy(3, 3, 8), /ordinal/);
  });
});

describe('subject builders', () => {
  it('put the partition, category and dotted type into event subjects', () => {
    assert.equal(
      subjects.rawEvent(3, EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION, 'cart.item_added'),
      'events.raw.3.customer_action.cart.item_added',
    );
    assert.equal(partitionOfSubject('events.enriched.11.system.payment.failed'), 11);
  });

  it('accept channel names with underscores (in_app) and reject names that would break a subject', () => {
    assert.equal(subjects.actionRequested('in_app'), 'actions.requested.in_app');
    assert.throws(() => subjects.actionRequested('in app'), /invalid channel/);
    assert.throws(() => subjects.triggerFired(1, 'Bad.Name'), /invalid trigger name/);
  });
});
