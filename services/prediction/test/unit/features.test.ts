import assert from 'node:assert/strict';
import {
  applyEvent,
  Ch,
  CUSTOMER_STATE_BYTES,
  DAY_MS,
  deserializeState,
  featureVector,
  FeatureStore,
  FEATURE_NAMES,
  newCustomerState,
  rfmSummary,
  RING_DAYS,
  serializeState,
  sessionDropDeviance,
  sessionEwma,
  windowCount,
  windowRevenue,
} from '../../src';

const T0 = Date.parse('2025-03-01T00:00:00Z');
const at = (day: number, hour = 12) => T0 + day * DAY_MS + hour * 3_600_000;
const ev = (type: string, t: number, revenue?: number) => ({ customerId: 'c', type, at: t, revenue });

describe('online features', () => {
  it('sees a fade in the recent session rate before a long silence shows', () => {
    // Two sessions a day for 60 days; then one customer keeps going and one fades to one every
    // other day for a week.
    const steady = newCustomerState('c');
    const fading = newCustomerState('c');
    for (let d = 0; d < 67; d++)
      for (const h of [9, 20]) {
        applyEvent(steady, ev('page.viewed', at(d, h)));
        if (d < 60 || (h === 9 && d % 2 === 0)) applyEvent(fading, ev('page.viewed', at(d, h)));
      }
    // Late on day 66, after its sessions: every window day is complete.
    const asOf = at(66, 22);
    const vec = (s: ReturnType<typeof newCustomerState>) => featureVector(s, asOf);
    const i = (name: string) => FEATURE_NAMES.indexOf(name as (typeof FEATURE_NAMES)[number]);
    // Only the rounding of its age into days separates the steady customer's rate from its windows'.
    assert.ok(vec(steady)[i('session_drop_deviance')] < 0.05);
    assert.ok(vec(fading)[i('session_drop_deviance')] > 2, `${vec(fading)[i('session_drop_deviance')]}`);
    for (const name of [
      'sessions_ewma_3d_vs_lifetime',
      'sessions_7d_vs_prior_21d',
      'sessions_3d_vs_lifetime',
    ])
      assert.ok(vec(fading)[i(name)] < vec(steady)[i(name)] - 0.5, name);
    // The EWMA of a steady two-a-day customer is two a day; the fading one's is far below.
    assert.ok(Math.abs(sessionEwma(steady, 3, asOf) - 2) < 0.2);
    assert.ok(sessionEwma(fading, 3, asOf) < 1.2);
    // No deficit, or too young to compare: no evidence.
    assert.equal(sessionDropDeviance(100, 50, [6, 14, 28, 56], 50), 0);
    assert.equal(sessionDropDeviance(10, 4, [0, 0, 0, 0], 4), 0);
  });

  it('counts an event in the w-day window only while its day is among the last w days (window boundaries)', () => {
    const s = newCustomerState('c');
    applyEvent(s, ev('order.completed', at(0, 23), 10));
    // Day 6 (7th day, counting day 0) still holds it; day 7 does not.
    assert.equal(windowCount(s, Ch.Orders, 7, at(6, 23)), 1);
    assert.equal(windowCount(s, Ch.Orders, 7, at(7, 0)), 0);
    assert.equal(windowCount(s, Ch.Orders, 30, at(29, 12)), 1);
    assert.equal(windowCount(s, Ch.Orders, 30, at(30, 0)), 0);
    assert.equal(windowRevenue(s, 90, at(89)), 10);
    assert.equal(windowRevenue(s, 90, at(90)), 0);
  });

  it('clears the ring days passed when the newest event jumps ahead', () => {
    const s = newCustomerState('c');
    applyEvent(s, ev('page.viewed', at(0)));
    applyEvent(s, ev('page.viewed', at(RING_DAYS + 5)));
    assert.equal(windowCount(s, Ch.Events, RING_DAYS, at(RING_DAYS + 5)), 1);
  });

  it('puts a late event into its own day while that day is in the ring, and only into totals beyond it', () => {
    const s = newCustomerState('c');
    applyEvent(s, ev('page.viewed', at(100)));
    applyEvent(s, ev('order.completed', at(95), 20)); // late, within the ring
    assert.equal(windowCount(s, Ch.Orders, 7, at(100)), 1);
    assert.equal(windowCount(s, Ch.Orders, 3, at(100)), 0);
    assert.equal(s.lastAt, at(100), 'a late event does not move the latest activity back');
    applyEvent(s, ev('order.completed', at(100 - RING_DAYS - 1), 30)); // older than the ring
    assert.equal(s.lateBeyondRing, 1);
    assert.equal(s.orders, 2);
    assert.equal(windowCount(s, Ch.Orders, RING_DAYS, at(100)), 1);
    assert.equal(s.firstOrderAt, at(100 - RING_DAYS - 1));
  });

  it('starts a session after 30 minutes of silence and never on a late event', () => {
    const s = newCustomerState('c');
    applyEvent(s, ev('page.viewed', at(0, 10)));
    applyEvent(s, ev('page.viewed', at(0, 10) + 29 * 60_000));
    applyEvent(s, ev('page.viewed', at(0, 11) + 31 * 60_000));
    applyEvent(s, ev('page.viewed', at(0, 3)));
    assert.equal(s.sessions, 2);
    assert.equal(s.activityHours[10], 1);
    assert.equal(s.activityHours[11], 1);
  });

  it('ignores predicted and system events as activity, and counts failed payments and tickets', () => {
    const s = newCustomerState('c');
    assert.equal(
      applyEvent(s, { customerId: 'c', type: 'churn.predicted', at: at(0), category: 'predicted' }),
      false,
    );
    applyEvent(s, { customerId: 'c', type: 'payment.failed', at: at(1), category: 'system' });
    applyEvent(s, ev('support.ticket_opened', at(1)));
    applyEvent(s, ev('email.opened', at(1, 8)));
    assert.equal(windowCount(s, Ch.FailedPayments, 30, at(2)), 1);
    assert.equal(windowCount(s, Ch.Tickets, 30, at(2)), 1);
    assert.equal(s.engagementHours[8], 1);
    assert.ok(Number.isNaN(s.firstAt) === false);
  });

  it('gives BG/NBD inputs with the first purchase as birth in a pure purchase log', () => {
    const s = newCustomerState('c');
    applyEvent(s, ev('order.completed', at(0), 5));
    applyEvent(s, ev('order.completed', at(10), 5));
    applyEvent(s, ev('order.completed', at(20), 5));
    assert.deepEqual(rfmSummary(s, at(40)), { x: 2, tx: 20, T: 40 });
  });

  it('builds a finite vector of every named feature and round-trips through a checkpoint', () => {
    const s = newCustomerState('c');
    for (let d = 0; d < 50; d += 3) applyEvent(s, ev(d % 9 ? 'page.viewed' : 'order.completed', at(d), 12.5));
    const v = featureVector(s, at(60));
    assert.equal(v.length, FEATURE_NAMES.length);
    assert.ok(v.every(Number.isFinite));
    const copy = deserializeState(JSON.parse(JSON.stringify(serializeState(s))));
    assert.deepEqual(Array.from(featureVector(copy, at(60))), Array.from(v));
  });

  it('keeps the store within its byte bound, evicting the least recently active customer', () => {
    const store = new FeatureStore(CUSTOMER_STATE_BYTES * 3);
    for (const id of ['a', 'b', 'c']) store.touch(id);
    store.touch('a');
    store.touch('d');
    assert.equal(store.size, 3);
    assert.ok(store.bytes <= store.maxBytes);
    assert.equal(store.get('b'), undefined);
    assert.ok(store.get('a'));
    assert.equal(store.evicted, 1);
  });
});
