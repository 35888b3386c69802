/** fast-check generators of small random triggers and event streams for the agreement tests. */
import fc from 'fast-check';
import type { Condition, EngineEvent, EventPattern, Pattern, TriggerSpec } from '../src/ast';
import type { Op } from './reference-evaluator';

const TYPES = ['a', 'b', 'c'];
const ALIASES = ['x0', 'x1', 'x2'];

type CondSpec = { k: 'none' } | { k: 'gt'; v: number } | { k: 'eqAlias'; alias: string } | { k: 'throws' };

function toCondition(c: CondSpec): Condition | undefined {
  switch (c.k) {
    case 'none':
      return undefined;
    case 'gt':
      return {
        source: `event.properties.v > ${c.v}`,
        evaluate: (ctx) => (ctx.event.properties.v as number) > c.v,
      };
    case 'eqAlias':
      // Throws (counts as false) when the alias is not bound yet.
      return {
        source: `event.properties.k == ${c.alias}.properties.k`,
        evaluate: (ctx) => ctx.event.properties.k === ctx.bindings[c.alias].properties.k,
      };
    case 'throws':
      return {
        source: 'boom()',
        evaluate: () => {
          throw new Error('boom');
        },
      };
  }
}

const condArb: fc.Arbitrary<CondSpec> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<CondSpec>({ k: 'none' }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 }).map<CondSpec>((v) => ({ k: 'gt', v })) },
  { weight: 2, arbitrary: fc.constantFrom(...ALIASES).map<CondSpec>((alias) => ({ k: 'eqAlias', alias })) },
  { weight: 1, arbitrary: fc.constant<CondSpec>({ k: 'throws' }) },
);

const typeArb = fc.constantFrom(...TYPES);
const windowArb = fc.option(fc.integer({ min: 1, max: 25 }), { nil: undefined });

const eventArb: fc.Arbitrary<Pattern> = fc
  .record({ type: typeArb, where: condArb, bind: fc.boolean() })
  .map(({ type, where, bind }) => {
    const p: EventPattern = { kind: 'event', type };
    const w = toCondition(where);
    if (w !== undefined) p.where = w;
    if (bind) p.as = '?';
    return p;
  });

const countArb: fc.Arbitrary<Pattern> = fc
  .record({
    type: typeArb,
    where: condArb,
    atLeast: fc.integer({ min: 1, max: 3 }),
    within: fc.integer({ min: 1, max: 20 }),
  })
  .map(({ type, where, atLeast, within }) => {
    const w = toCondition(where);
    return {
      kind: 'count',
      type,
      atLeast,
      withinMs: within,
      ...(w !== undefined ? { where: w } : {}),
    } as Pattern;
  });

const absentArb: fc.Arbitrary<Pattern> = fc
  .record({ type: typeArb, where: condArb, forMs: fc.integer({ min: 1, max: 15 }) })
  .map(({ type, where, forMs }) => {
    const w = toCondition(where);
    const pattern: EventPattern = { kind: 'event', type, ...(w !== undefined ? { where: w } : {}) };
    return { kind: 'absent', pattern, forMs } as Pattern;
  });

const { pattern: patternArb } = fc.letrec<{ pattern: Pattern; leaf: Pattern; composite: Pattern }>((tie) => ({
  leaf: fc.oneof({ weight: 3, arbitrary: eventArb }, { weight: 1, arbitrary: countArb }),
  pattern: fc.oneof({ depthSize: 'small', maxDepth: 2 }, tie('leaf'), tie('composite')),
  composite: fc.oneof(
    fc
      .record({
        first: tie('pattern'),
        rest: fc.array(
          fc.oneof({ weight: 2, arbitrary: tie('pattern') }, { weight: 1, arbitrary: absentArb }),
          {
            minLength: 1,
            maxLength: 2,
          },
        ),
        within: windowArb,
      })
      .map(
        ({ first, rest, within }) =>
          ({ kind: 'sequence', steps: [first, ...rest], withinMs: within }) as Pattern,
      ),
    fc
      .record({ of: fc.array(tie('pattern'), { minLength: 1, maxLength: 3 }), within: windowArb })
      .map(({ of, within }) => ({ kind: 'all', of, withinMs: within }) as Pattern),
    fc.array(tie('pattern'), { minLength: 1, maxLength: 3 }).map((of) => ({ kind: 'any', of }) as Pattern),
  ),
}));

/** Gives '?' aliases unique names in pre-order (fresh copies, patterns may share generated objects). */
function nameAliases(p: Pattern, next: { i: number }): Pattern {
  switch (p.kind) {
    case 'event':
    case 'count': {
      const copy = { ...p };
      if (copy.as !== undefined) copy.as = `x${next.i++}`;
      return copy;
    }
    case 'sequence':
      return { ...p, steps: p.steps.map((s) => nameAliases(s, next)) };
    case 'all':
    case 'any':
      return { ...p, of: p.of.map((s) => nameAliases(s, next)) };
    default:
      return p;
  }
}

export const triggersArb: fc.Arbitrary<TriggerSpec[]> = fc
  .array(fc.record({ pattern: patternArb, cooldown: fc.constantFrom(0, 0, 5, 15) }), {
    minLength: 1,
    maxLength: 3,
  })
  .map((list) =>
    list.map(({ pattern, cooldown }, i): TriggerSpec => generatedTrigger(`t${i}`, cooldown, pattern)),
  );

/** A trigger of the agreement tests (aliases named). */
function generatedTrigger(name: string, cooldownMs: number, pattern: Pattern): TriggerSpec {
  return { name, version: 1, priority: 50, cooldownMs, pattern: nameAliases(pattern, { i: 0 }) };
}

/** `p` with every event type 'a' turned into 'b' (fresh copies). */
function withoutTypeA(p: Pattern): Pattern {
  switch (p.kind) {
    case 'event':
    case 'count':
      return p.type === 'a' ? { ...p, type: 'b' } : { ...p };
    case 'absent':
      return p.pattern.type === 'a' ? { ...p, pattern: { ...p.pattern, type: 'b' } } : p;
    case 'sequence':
      return { ...p, steps: p.steps.map(withoutTypeA) };
    case 'all':
    case 'any':
      return { ...p, of: p.of.map(withoutTypeA) };
  }
}

/**
 * Triggers whose partial matches the engine makes lazily from shared start events (StartGroup):
 * a windowed sequence starting with a plain 'a' event (maybe bound), then steps without 'a' whose
 * first is not an absence; a count of 'a' alone or in a root any of events; a windowed all of
 * plain events of distinct types; beside triggers of any shape.
 */
export const deferredTriggersArb: fc.Arbitrary<TriggerSpec[]> = fc
  .record({
    deferred: fc.array(
      fc.record({
        bind: fc.boolean(),
        second: patternArb,
        rest: fc.array(fc.oneof({ weight: 2, arbitrary: patternArb }, { weight: 1, arbitrary: absentArb }), {
          maxLength: 1,
        }),
        within: fc.integer({ min: 1, max: 25 }),
        cooldown: fc.constantFrom(0, 0, 5, 15),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    counts: fc.array(
      fc.record({
        atLeast: fc.integer({ min: 1, max: 4 }),
        within: fc.integer({ min: 1, max: 20 }),
        // Root any of the count and these events (none: a root count).
        others: fc.array(eventArb, { maxLength: 2 }),
        cooldown: fc.constantFrom(0, 0, 5, 15),
      }),
      { maxLength: 2 },
    ),
    alls: fc.array(
      fc.record({
        types: fc.shuffledSubarray(['a', 'b', 'c'], { minLength: 2, maxLength: 3 }),
        bind: fc.boolean(),
        within: fc.integer({ min: 1, max: 25 }),
        cooldown: fc.constantFrom(0, 0, 5, 15),
      }),
      { maxLength: 2 },
    ),
    others: triggersArb,
  })
  .map(({ deferred, counts, alls, others }) => [
    ...deferred.map(({ bind, second, rest, within, cooldown }, i): TriggerSpec => {
      const first: EventPattern = { kind: 'event', type: 'a' };
      if (bind) first.as = '?';
      const pattern: Pattern = {
        kind: 'sequence',
        steps: [first, ...[second, ...rest].map(withoutTypeA)],
        withinMs: within,
      };
      return generatedTrigger(`d${i}`, cooldown, pattern);
    }),
    ...counts.map(({ atLeast, within, others: events, cooldown }, i): TriggerSpec => {
      const count: Pattern = { kind: 'count', type: 'a', atLeast, withinMs: within };
      const pattern: Pattern =
        events.length === 0 ? count : { kind: 'any', of: [count, ...events.map(withoutTypeA)] };
      return generatedTrigger(`n${i}`, cooldown, pattern);
    }),
    ...alls.map(({ types, bind, within, cooldown }, i): TriggerSpec => {
      const of: EventPattern[] = types.map((type) => ({ kind: 'event', type }));
      if (bind) of[0].as = '?';
      const pattern: Pattern = { kind: 'all', of, withinMs: within };
      return generatedTrigger(`l${i}`, cooldown, pattern);
    }),
    ...others,
  ]);

export const opsArb: fc.Arbitrary<Op[]> = fc
  .array(
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          type: typeArb,
          customer: fc.constantFrom('c1', 'c2'),
          time: fc.integer({ min: 0, max: 60 }),
          v: fc.integer({ min: 0, max: 3 }),
          k: fc.integer({ min: 0, max: 1 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ advance: fc.integer({ min: 0, max: 90 }) }) },
    ),
    { minLength: 4, maxLength: 30, size: 'max' },
  )
  .map((raw) => {
    // Mostly increasing times with some disorder: the generated time is an offset around the position.
    let clock = 0;
    return raw.map((r, i): Op => {
      if ('advance' in r) return { kind: 'advance', to: r.advance };
      clock = Math.max(clock, Math.floor(r.time / 2) + i);
      const time = r.time % 3 === 0 ? Math.max(0, clock - (r.time % 7)) : clock;
      const event: EngineEvent = {
        id: `e${i}`,
        type: r.type,
        customerId: r.customer,
        time,
        properties: { v: r.v, k: r.k },
      };
      return { kind: 'event', event };
    });
  });
