import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { TriggerSpec } from '../../src/ast';
import { PatternEngine } from '../../src/engine/index';
import type { FiredTrigger } from '../../src/types';
import { validatePattern } from '../../src/validate';
import { opsArb, triggersArb } from '../generators';
import { referenceFires, type Op } from '../reference-evaluator';
import { runEngine, runRestoredAt } from '../run-engine';

/** PATTERNS_PROPERTY_RUNS=10 multiplies the property runs (use while changing the engine). */
const RUNS = Number(process.env.PATTERNS_PROPERTY_RUNS ?? 1);

const key = (trigger: string, customerId: string, firedAt: number, ids: string[]): string =>
  `${trigger}|${customerId}|${firedAt}|${ids.join(',')}`;

const engineKey = (f: FiredTrigger): string =>
  key(
    f.trigger,
    f.customerId,
    f.firedAt,
    f.matched.filter((m) => m.event !== undefined).map((m) => (m.event as { id: string }).id),
  );

const scenarioArb = fc.record({
  triggers: triggersArb,
  ops: opsArb,
  lateness: fc.constantFrom(0, 0, 4),
  flush: fc.boolean(),
});

function withFlush(ops: Op[], flush: boolean): Op[] {
  return flush ? [...ops, { kind: 'advance', to: 500 }] : ops;
}

describe('engine agrees with the brute-force reference evaluator', () => {
  it('generated triggers are valid patterns', () => {
    fc.assert(
      fc.property(triggersArb, (triggers: TriggerSpec[]) => {
        for (const t of triggers) assert.deepEqual(validatePattern(t.pattern), []);
      }),
      { numRuns: 200 * RUNS },
    );
  });

  it('fires the same (trigger, customer, firedAt, matched events) on random triggers and streams', () => {
    fc.assert(
      fc.property(scenarioArb, ({ triggers, ops, lateness, flush }) => {
        const all = withFlush(ops, flush);
        const engine = new PatternEngine(triggers, {
          allowedLatenessMs: lateness,
          maxPartialMatchesPerTrigger: 10_000,
        });
        const fired = runEngine(engine, all);
        const want = referenceFires(triggers, all, lateness)
          .map((f) => key(f.trigger, f.customerId, f.firedAt, f.matchedIds))
          .sort();
        assert.deepEqual(fired.map(engineKey).sort(), want);
        // Ids are not hashes: they are unique because one event or deadline completes a trigger
        // at most once per customer (engine firedTriggerId).
        assert.equal(new Set(fired.map((f) => f.id)).size, fired.length);
      }),
      { numRuns: 400 * RUNS },
    );
  });

  it('continues identically after snapshot and restore at any point', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), ({ triggers, ops, lateness, flush }, cut) => {
        const options = { allowedLatenessMs: lateness, maxPartialMatchesPerTrigger: 10_000 };
        const all = withFlush(ops, flush);
        const { straight, interrupted } = runRestoredAt(triggers, options, all, cut);
        assert.deepEqual(
          interrupted.map((f) => [f.id, f.firedAt, f.explanation]),
          straight.map((f) => [f.id, f.firedAt, f.explanation]),
        );
      }),
      { numRuns: 200 * RUNS },
    );
  });
});
