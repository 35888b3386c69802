import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { CEL_FALLBACK, compileCel, parseDefinitions, type CompiledCel } from '../../src';

const scope = {
  variables: new Map([
    ['event', 'event' as const],
    ['profile', 'map' as const],
    ['view', 'event' as const],
  ]),
};

type Vars = Record<string, unknown>;
type Outcome = { value: unknown } | { error: string };

function compile(source: string): CompiledCel {
  const r = compileCel(source, scope, 'any');
  if (!r.ok) throw new Error(`${source}: ${r.errors.join('; ')}`);
  return r.program;
}

function outcome(fn: () => unknown): Outcome {
  try {
    return { value: fn() };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

const bound = (p: CompiledCel) => p.bind((name) => (vars: Vars) => vars[name]);
const compiled = (source: string, vars: Vars) => outcome(() => bound(compile(source))(vars));
const interpreted = (source: string, vars: Vars) =>
  outcome(() => compile(source).interpret((name) => vars[name]));

/** The compiled closures alone: 'fallback' where they leave the input to the interpreter. */
function closuresAlone(p: CompiledCel, vars: Vars): Outcome | 'fallback' | 'not compiled' {
  if (p.js === undefined) return 'not compiled';
  try {
    return { value: p.js((name) => (v: Vars) => v[name])(vars) };
  } catch (err) {
    if (err === CEL_FALLBACK) return 'fallback';
    throw err;
  }
}

function event(properties: Vars, type = 'page.viewed'): Vars {
  return { id: 'e1', type, customerId: 'c1', time: 1_700_000_000_000, properties };
}

describe('definitions: CEL compiled to closures', () => {
  it('compiles the conditions of the examples and evaluates them as the interpreter does', () => {
    const text = readFileSync(
      join(__dirname, '..', '..', '..', '..', '..', 'examples', 'triggers.yaml'),
      'utf8',
    );
    const sources = [...text.matchAll(/where: (['"])(.*)\1$/gm)].map((m) => m[2]);
    assert.ok(sources.length >= 5);
    const vars = {
      event: event({ price: 25, sku: 'a', score: 0.9, revenue: 600, new_price: 5, old_price: 9 }),
      view: event({ sku: 'a' }),
      profile: { journeyStage: 'active', traits: { vip: true } },
    };
    for (const source of sources) {
      const p = compile(source);
      assert.ok(p.js, `${source} is compiled`);
      assert.deepEqual(closuresAlone(p, vars), { value: true }, source);
      assert.deepEqual(compiled(source, vars), interpreted(source, vars), source);
    }
  });

  it('compares ints with doubles, strings by UTF-16 code units, and null only with null', () => {
    const vars = { event: event({ price: 25, big: 2n ** 53n + 1n, s: '\uffff', t: '😀', n: null }) };
    for (const [source, expected] of [
      ['event.properties.price >= 20', true],
      ['event.properties.price == 25', true],
      ['event.properties.price == 25.0', true],
      ['event.properties.big > 9007199254740992.0', false], // ints meet doubles as doubles
      ['event.properties.big == 9007199254740992.0', false], // equality is exact
      ['event.properties.s < event.properties.t', false],
      ['event.properties.n == null', true],
      ['event.properties.price == null', false],
      ["event.properties.price == '25'", false],
      ['size(event.properties.t) == 1', true],
      ['event.properties.price / 2 == 12.5', true],
    ] as const) {
      const p = compile(source);
      assert.deepEqual(closuresAlone(p, vars), { value: expected }, source);
      assert.deepEqual(compiled(source, vars), interpreted(source, vars), source);
    }
  });

  it('leaves errors to the interpreter: missing keys, mismatched operands, overflow, division by zero', () => {
    const vars = { event: event({ price: 'x', n: 9223372036854775807n, zero: 0n }), profile: {} };
    for (const source of [
      'event.properties.missing > 1',
      'event.properties.price >= 20.0',
      'event.properties.n + 1 > 0',
      'event.properties.n / event.properties.zero > 0',
      'profile.traits.vip == true',
      'event.properties.price + 1.0',
    ]) {
      const p = compile(source);
      assert.equal(closuresAlone(p, vars), 'fallback', source);
      const out = compiled(source, vars);
      assert.ok('error' in out, `${source} is an error`);
      assert.deepEqual(out, interpreted(source, vars), source);
    }
  });

  it('decides false && error as false, as the interpreter does, whichever side errs', () => {
    const vars = { event: event({ price: 5 }) };
    for (const source of [
      'event.properties.price > 10 && event.properties.missing',
      'event.properties.missing && event.properties.price > 10',
      'event.properties.price < 10 || event.properties.missing',
      'event.properties.missing || event.properties.price < 10',
    ]) {
      assert.deepEqual(compiled(source, vars), interpreted(source, vars), source);
      assert.ok('value' in compiled(source, vars), source);
    }
  });

  it('leaves composites to the interpreter even when identical, and sees functions as null', () => {
    const vars = { event: event({ list: [Number.NaN], fn: () => 1, n: null }) };
    for (const [source, expected] of [
      ['event.properties.list == event.properties.list', false],
      ['has(event.properties.fn)', false],
      ["'n' in event.properties", false],
      ['event.properties.fn == null', true],
    ] as const) {
      assert.deepEqual(compiled(source, vars), { value: expected }, source);
      assert.deepEqual(compiled(source, vars), interpreted(source, vars), source);
    }
  });

  it('leaves values other than plain data (Maps, class instances) and comprehensions to the interpreter', () => {
    class Props {
      price = 30;
    }
    const p = compile('event.properties.price > 20');
    const vars = { event: event(new Props() as unknown as Vars) };
    assert.equal(closuresAlone(p, vars), 'fallback');
    assert.deepEqual(compiled('event.properties.price > 20', vars), { value: true });
    assert.equal(compile('event.properties.items.exists(i, i > 1)').js, undefined);
    assert.equal(compile("event.type.matches('^a')").js, undefined);
  });

  it('evaluates compiled trigger conditions through the engine context as before', () => {
    const r = parseDefinitions(`apiVersion: kairos/v1
kind: Trigger
metadata: { name: t }
spec:
  pattern:
    sequence:
      - { event: a, as: view }
      - { event: b, where: "event.properties.sku == view.properties.sku && profile.tier in ['gold']" }
`);
    assert.deepEqual(r.errors, []);
    const doc = r.documents[0] as {
      trigger: { pattern: { steps: Array<{ where?: { evaluate: (c: unknown) => boolean } }> } };
    };
    const where = doc.trigger.pattern.steps[1].where!;
    const ctx = (sku: string, tier?: string) => ({
      event: { ...event({ sku }, 'b'), profile: tier === undefined ? undefined : { tier } },
      profile: undefined,
      bindings: { view: event({ sku: 'a' }, 'a') },
    });
    assert.equal(where.evaluate(ctx('a', 'gold')), true);
    assert.equal(where.evaluate(ctx('b', 'gold')), false);
    assert.throws(() => where.evaluate(ctx('a')), /no such key|profile/);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties: generated expressions over generated input, compiled path against the interpreter.

const KEYS = ['a', 'b', 'c', 'd'];

const scalar = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(0.5, -0, 1e308, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53 + 2),
  fc.double({ noDefaultInfinity: true }),
  fc.constantFrom(0n, 1n, -3n, 2n ** 63n - 1n, -(2n ** 63n)),
  fc.constantFrom('', 'a', 'ab', 'B', 'é', '😀', '\uffff'),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);

const data: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(scalar, { maxLength: 3 }),
    fc.constant(new Date(1_700_000_000_000)),
    fc.constant(() => 1),
    tie('map'),
  ),
  map: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 4 }),
})).value;

const properties = fc.dictionary(fc.constantFrom(...KEYS), data, { maxKeys: 4 });

const inputs = fc.record({
  event: properties.map((p) => event(p)),
  view: properties.map((p) => event(p, 'product.viewed')),
  profile: fc.option(properties, { nil: undefined }),
});

const LITERALS = [
  '0',
  '1',
  '-2',
  '2.5',
  '0.0',
  "'a'",
  "'😀'",
  "''",
  'true',
  'false',
  'null',
  '9223372036854775807',
];

const expression: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => {
  const e = tie('e');
  return {
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(...LITERALS),
      fc.constantFrom(...KEYS).map((k) => `event.properties.${k}`),
      fc.constantFrom(...KEYS).map((k) => `view.properties.${k}`),
      fc.constantFrom(...KEYS).map((k) => `profile.${k}`),
      fc.constantFrom('event.type', 'event.time', 'event.properties', 'profile'),
      fc
        .tuple(fc.constantFrom(...KEYS), fc.constantFrom(...KEYS))
        .map(([k, j]) => `event.properties.${k}.${j}`),
      fc.constantFrom(...KEYS).map((k) => `has(event.properties.${k})`),
      fc.tuple(fc.constantFrom('!', '-'), e).map(([op, x]) => `${op}(${x})`),
      fc.tuple(fc.constantFrom('size', 'int', 'double'), e).map(([f, x]) => `${f}(${x})`),
      fc
        .tuple(e, fc.constantFrom('contains', 'startsWith', 'endsWith', 'size'))
        .chain(([x, m]) => (m === 'size' ? fc.constant(`(${x}).size()`) : e.map((y) => `(${x}).${m}(${y})`))),
      fc
        .tuple(
          e,
          fc.constantFrom('==', '!=', '<', '<=', '>', '>=', '&&', '||', '+', '-', '*', '/', '%', 'in'),
          e,
        )
        .map(([x, op, y]) => `(${x}) ${op} (${y})`),
      fc.tuple(e, e).map(([x, y]) => `(${x})[${y}]`),
      fc.tuple(e, e, e).map(([c, x, y]) => `(${c}) ? (${x}) : (${y})`),
      fc.array(e, { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
      // Outside the subset: the whole expression is the interpreter's.
      e.map((x) => `[${x}].exists(i, i == 1)`),
    ),
  };
}).e;

describe('definitions: CEL compiled to closures, against the interpreter (properties)', function () {
  // About two seconds alone; the machine's other work can make it several times longer.
  this.timeout(60_000);

  it('gives the same result or the same error on generated expressions and input', () => {
    const tally = { decided: 0, fallback: 0, notCompiled: 0, rejected: 0 };
    fc.assert(
      fc.property(expression, fc.array(inputs, { minLength: 1, maxLength: 4 }), (source, varsList) => {
        const r = compileCel(source, scope, 'any');
        if (!r.ok) {
          tally.rejected++;
          return;
        }
        const fast = bound(r.program);
        for (const vars of varsList) {
          const alone = closuresAlone(r.program, vars);
          if (alone === 'not compiled') tally.notCompiled++;
          else if (alone === 'fallback') tally.fallback++;
          else tally.decided++;
          const reference = outcome(() => r.program.interpret((name) => (vars as Vars)[name]));
          if (typeof alone === 'object') assert.deepEqual(alone, reference, source);
          assert.deepEqual(
            outcome(() => fast(vars)),
            reference,
            source,
          );
        }
      }),
      { numRuns: 2_500 },
    );
    // The generated cases reach every path: decided by the closures, left to the interpreter at
    // evaluation, and not compiled at all.
    assert.ok(tally.decided > 600, JSON.stringify(tally));
    assert.ok(tally.fallback > 600, JSON.stringify(tally));
    assert.ok(tally.notCompiled > 30, JSON.stringify(tally));
  });
});
