import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { EngineEvent, TriggerSpec } from '../../src/ast';
import { PatternEngine } from '../../src/engine/index';
import type { Explanation, FiredTrigger } from '../../src/types';
import { deferredTriggersArb, opsArb } from '../generators';
import { referenceFires, type Op } from '../reference-evaluator';
import { runEngine, runInterrupted, runRestoredAt } from '../run-engine';

/** PATTERNS_PROPERTY_RUNS=10 multiplies the property runs (use while changing the engine). */
const RUNS = Number(process.env.PATTERNS_PROPERTY_RUNS ?? 1);

const fires = (list: FiredTrigger[]) =>
  list.map((f) => JSON.stringify([f.id, f.trigger, f.customerId, f.firedAt, f.explanation])).sort();

/**
 * What explain tells that does not depend on when expired partial matches are swept. A deferred
 * count (a single-run trigger: root count or any) lists the events in its window as of the
 * watermark; made at once, it lists the older ones too until its next event slides the window
 * (neither can count them again).
 */
function explained(ex: Explanation, singleRun: boolean) {
  const live = ex.partialMatches.filter(
    (pm) => pm.expiresAfter === undefined || pm.expiresAfter >= ex.watermark,
  );
  return {
    status: ex.status === 'cooldown' ? ex.status : undefined,
    partialMatches: singleRun ? live.length : live,
    conditionFailures: ex.conditionFailures,
    lastFiredAt: ex.lastFiredAt,
    lastSuppressed: ex.lastSuppressed,
  };
}

const scenarioArb = fc.record({
  triggers: deferredTriggersArb,
  ops: opsArb,
  lateness: fc.constantFrom(0, 0, 4),
  maxRuns: fc.constantFrom(1, 2, 3, 10_000),
  flush: fc.boolean(),
});

describe('deferred starts (start events kept once for the triggers that begin with them)', () => {
  it('the shared-start triggers agree with the brute-force reference', () => {
    fc.assert(
      fc.property(scenarioArb, ({ triggers, ops, lateness, flush }) => {
        const all: Op[] = flush ? [...ops, { kind: 'advance', to: 500 }] : ops;
        const engine = new PatternEngine(triggers, {
          allowedLatenessMs: lateness,
          maxPartialMatchesPerTrigger: 10_000,
        });
        const got = runEngine(engine, all)
          .map(
            (f) =>
              `${f.trigger}|${f.customerId}|${f.firedAt}|${f.matched.flatMap((m) => (m.event ? [m.event.id] : [])).join(',')}`,
          )
          .sort();
        const want = referenceFires(triggers, all, lateness)
          .map((f) => `${f.trigger}|${f.customerId}|${f.firedAt}|${f.matchedIds.join(',')}`)
          .sort();
        assert.deepEqual(got, want);
      }),
      { numRuns: 300 * RUNS },
    );
  });

  it('fires, explains and evicts exactly as making every partial match at its start event', () => {
    fc.assert(
      fc.property(scenarioArb, ({ triggers, ops, lateness, maxRuns, flush }) => {
        const all: Op[] = flush ? [...ops, { kind: 'advance', to: 500 }] : ops;
        const options = { allowedLatenessMs: lateness, maxPartialMatchesPerTrigger: maxRuns };
        const deferred = new PatternEngine(triggers, options);
        const eager = new PatternEngine(triggers, { ...options, deferStarts: false });
        // Call by call: the same firings come out of the same call (order within a call aside).
        const ids = new Set<string>();
        for (const op of all) {
          const call = (e: PatternEngine) => (op.kind === 'event' ? e.process(op.event) : e.advanceTo(op.to));
          const fired = call(deferred);
          assert.deepEqual(fires(fired), fires(call(eager)));
          for (const f of fired) ids.add(f.id);
        }
        // Unique ids with caps of 1-3 too, where evictions shape what completes.
        assert.equal(ids.size, deferred.stats.fired);
        for (const t of triggers) {
          const singleRun = t.pattern.kind === 'count' || t.pattern.kind === 'any';
          for (const c of ['c1', 'c2'])
            assert.deepEqual(
              explained(deferred.explain(t.name, c), singleRun),
              explained(eager.explain(t.name, c), singleRun),
            );
        }
      }),
      { numRuns: 300 * RUNS },
    );
  });

  it('continues identically after snapshot and restore at any point', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), ({ triggers, ops, lateness, maxRuns }, cut) => {
        const options = { allowedLatenessMs: lateness, maxPartialMatchesPerTrigger: maxRuns };
        const { straight, interrupted } = runRestoredAt(triggers, options, ops, cut);
        assert.deepEqual(fires(interrupted), fires(straight));
      }),
      { numRuns: 200 * RUNS },
    );
  });

  it('changes nothing when the same triggers are reloaded at any point (deferred partial matches made)', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), ({ triggers, ops, lateness, maxRuns }, cut) => {
        const options = { allowedLatenessMs: lateness, maxPartialMatchesPerTrigger: maxRuns };
        const { straight, interrupted } = runInterrupted(triggers, options, ops, cut, (engine) => {
          engine.setTriggers(triggers);
          return engine;
        });
        assert.deepEqual(fires(interrupted), fires(straight));
      }),
      { numRuns: 200 * RUNS },
    );
  });

  it('keeps one start event for several triggers, and releases an idle customer after the longest window', () => {
    const viewedThen = (name: string, type: string, withinMs: number): TriggerSpec => ({
      name,
      version: 1,
      priority: 50,
      cooldownMs: 0,
      pattern: {
        kind: 'sequence',
        steps: [
          { kind: 'event', type: 'viewed', as: 'v' },
          { kind: 'event', type },
        ],
        withinMs,
      },
    });
    const engine = new PatternEngine([
      viewedThen('to-cart', 'added', 100),
      viewedThen('to-wish', 'wished', 300),
    ]);
    const ev = (id: string, type: string, customerId: string, time: number): EngineEvent => ({
      id,
      type,
      customerId,
      time,
      properties: {},
    });
    engine.process(ev('e1', 'viewed', 'c1', 0));
    engine.process(ev('e2', 'viewed', 'c2', 10));
    assert.deepEqual(engine.customersWithState(), ['c1', 'c2']);
    const fired = engine.process(ev('e3', 'added', 'c1', 50));
    assert.deepEqual(
      fired.map((f) => [f.trigger, f.matched.map((m) => m.event?.id)]),
      [['to-cart', ['e1', 'e3']]],
    );
    // The other trigger still waits on the same start event.
    assert.equal(engine.explain('to-wish', 'c1').status, 'waiting');
    // c2 was seen by no other event: gone once the longest window (300) has passed.
    engine.advanceTo(311);
    assert.deepEqual(engine.customersWithState(), ['c1']);
    assert.equal(engine.explain('to-wish', 'c2').status, 'idle');
  });
});
