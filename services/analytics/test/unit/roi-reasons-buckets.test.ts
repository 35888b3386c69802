import assert from 'node:assert/strict';
import { BucketCounts, bucketStart, bucketStarts } from '../../src/domain/buckets';
import { reasonCategory } from '../../src/domain/reasons';
import { messageCost, roiRows } from '../../src/domain/roi';

describe('time buckets', () => {
  const t = Date.parse('2026-03-04T10:37:45.123Z');

  it('aligns minute, hour and day buckets to UTC', () => {
    assert.equal(new Date(bucketStart(t, 'minute')).toISOString(), '2026-03-04T10:37:00.000Z');
    assert.equal(new Date(bucketStart(t, 'hour')).toISOString(), '2026-03-04T10:00:00.000Z');
    assert.equal(new Date(bucketStart(t, 'day')).toISOString(), '2026-03-04T00:00:00.000Z');
  });

  it('counts a late fact in the bucket of its own time, not of its arrival', () => {
    const b = new BucketCounts('hour');
    const from = Date.parse('2026-03-04T08:00:00Z');
    b.add(Date.parse('2026-03-04T10:10:00Z'));
    b.add(Date.parse('2026-03-04T08:59:59Z')); // arrives later, happened earlier
    assert.deepEqual(b.series(from, from + 3 * 3_600_000), [1, 0, 1]);
    assert.equal(bucketStarts(from, from + 3 * 3_600_000, 'hour').length, 3);
  });
});

describe('ROI', () => {
  it('allocates the infrastructure cost by message share and computes net and ROI', () => {
    // 2 days at 10/day = 20 of infrastructure; A has 300 of 400 messages → 15, B → 5.
    const rows = roiRows(
      [
        { key: 'A', attributedValue: 100, messageCost: 3, messages: 300 },
        { key: 'B', attributedValue: 0, messageCost: 1, messages: 100 },
      ],
      10,
      2 * 86_400_000,
      400,
    );
    assert.deepEqual(
      rows.map((r) => [r.key, r.infraCost, r.totalCost, r.net, r.roi]),
      [
        ['A', 15, 18, 82, 82 / 18],
        ['B', 5, 6, -6, -1],
      ],
    );
  });

  it("takes a message's own cost, else its channel's configured cost", () => {
    assert.equal(messageCost(0.02, 'sms', { sms: 0.05 }), 0.02);
    assert.equal(messageCost(0, 'sms', { sms: 0.05 }), 0.05);
    assert.equal(messageCost(0, 'push', {}), 0);
  });
});

describe('suppression and failure reasons', () => {
  it('groups the reasons orchestration and delivery write', () => {
    assert.equal(reasonCategory('suppressed', 'frequency_cap'), 'caps');
    assert.equal(reasonCategory('suppressed', 'quiet_hours'), 'quiet_hours');
    assert.equal(reasonCategory('suppressed', 'lost_arbitration_to:payment-rescue'), 'arbitration');
    assert.equal(reasonCategory('suppressed', 'already_in_workflow:run_1'), 'reentry');
    assert.equal(reasonCategory('suppressed', 'push:unreachable,email:no_marketing_consent'), 'consent');
    assert.equal(reasonCategory('held_out', 'holdout'), 'holdout');
    assert.equal(reasonCategory('failed', 'email: smtp 550 mailbox unavailable'), 'channel_error');
  });
});
