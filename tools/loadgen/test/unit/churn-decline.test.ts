import assert from 'node:assert/strict';
import { createPopulation } from '../../src';

const DAY = 86_400_000;

/** Sessions per day of churners in the last 7 days before churn against days 28–14 before. */
function fadeRatio(churnDeclineDays: number): number {
  const p = createPopulation({ seed: 5, customers: 600, churnDeclineDays });
  const start = p.options.startTime;
  const churnAt = new Map(p.customers.map((c) => [c.id, c.churnAt]));
  const sessions = new Set<string>();
  let late = 0;
  let early = 0;
  for (const e of p.eventsUntil(start + 150 * DAY)) {
    const c = churnAt.get(e.customerId)!;
    // Churners whose whole 28-day lead-up lies inside the run.
    if (c < start + 40 * DAY || c > start + 150 * DAY || !e.sessionId || sessions.has(e.sessionId)) continue;
    sessions.add(e.sessionId);
    const before = (c - e.occurredAt) / DAY;
    if (before <= 7) late++;
    else if (before > 14 && before <= 28) early++;
  }
  return late / 7 / (early / 14);
}

describe('pre-churn disengagement (churnDeclineDays)', () => {
  it('fades activity over the weeks before churn when enabled, and leaves it flat when not', () => {
    const flat = fadeRatio(0);
    const fading = fadeRatio(21);
    assert.ok(flat > 0.8 && flat < 1.25, `without decline: ${flat}`);
    assert.ok(fading < 0.5, `with decline: ${fading}`);
  });

  it('replays the same seed identically with the option off (0) and absent', () => {
    const a = createPopulation({ seed: 9, customers: 100 }).nextEvents(5000);
    const b = createPopulation({ seed: 9, customers: 100, churnDeclineDays: 0 }).nextEvents(5000);
    assert.deepEqual(b, a);
  });

  it('rejects a decline outside 0..365 days, naming the option', () => {
    assert.throws(
      () => createPopulation({ seed: 1, customers: 1, churnDeclineDays: -1 }),
      /churnDeclineDays/,
    );
  });
});
