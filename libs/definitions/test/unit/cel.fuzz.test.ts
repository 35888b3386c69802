import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzParameters, fuzzTimeout, FuzzTally } from '@kairos/testkit';
import { CelEvaluationError, compileCel, DEFINITION_LIMITS, type CelScope } from '../../src';

const CI_RUNS = 300;
/** Far above one evaluation within the cost limit: past it, evaluation is unbounded. */
const CASE_DEADLINE_MS = 5_000;

const scope: CelScope = {
  variables: new Map([
    ['event', 'event'],
    ['profile', 'map'],
    ['add', 'event'],
  ]),
  laterAliases: new Set(['later']),
};

const ident = fc.constantFrom('event', 'profile', 'add', 'later', 'nope', 'x');
const field = fc.constantFrom(
  'properties',
  'traits',
  'type',
  'customerId',
  'time',
  'id',
  'items',
  'price',
  'sku',
  'name',
);
const literal = fc.oneof(
  fc.integer({ min: -1e6, max: 1e6 }).map(String),
  fc.constantFrom(
    '9223372036854775807',
    '-9223372036854775808',
    '18446744073709551615u',
    '1e308',
    '0.5',
    '1u',
  ),
  fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .map((d) => (Number.isInteger(d) ? `${d}.0` : String(d))),
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('true', 'false', 'null', "b'abc'", "r'\\d+'", '"(a+)+$"'),
);

/** CEL expressions from the grammar: operators, selections, macros, functions, nested. */
const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    literal,
    fc.tuple(ident, fc.array(field, { maxLength: 3 })).map(([i, fs]) => [i, ...fs].join('.')),
    fc
      .tuple(
        tie('e'),
        fc.constantFrom('+', '-', '*', '/', '%', '==', '!=', '<', '<=', '>', '>=', '&&', '||', 'in'),
        tie('e'),
      )
      .map(([a, op, b]) => `${a} ${op} ${b}`),
    fc.tuple(fc.constantFrom('!', '-'), tie('e')).map(([op, a]) => `${op}${a}`),
    tie('e').map((a) => `(${a})`),
    fc.tuple(tie('e'), tie('e'), tie('e')).map(([c, a, b]) => `${c} ? ${a} : ${b}`),
    fc.array(tie('e'), { maxLength: 4 }).map((xs) => `[${xs.join(', ')}]`),
    fc.tuple(literal, tie('e')).map(([k, v]) => `{${k}: ${v}}`),
    fc
      .tuple(
        tie('e'),
        fc.constantFrom('all', 'exists', 'exists_one', 'map', 'filter'),
        fc.constantFrom('i', 'x'),
        tie('e'),
      )
      .map(([range, macro, v, body]) => `${range}.${macro}(${v}, ${body})`),
    fc
      .tuple(
        fc.constantFrom(
          'size',
          'int',
          'uint',
          'double',
          'string',
          'bool',
          'bytes',
          'timestamp',
          'duration',
          'type',
          'has',
          'dyn',
          'nofn',
        ),
        tie('e'),
      )
      .map(([f, a]) => `${f}(${a})`),
    fc
      .tuple(
        tie('e'),
        fc.constantFrom('contains', 'startsWith', 'endsWith', 'matches', 'size', 'getHours', 'nope'),
        tie('e'),
      )
      .map(([t, f, a]) => `${t}.${f}(${a})`),
    fc.tuple(tie('e'), tie('e')).map(([a, i]) => `${a}[${i}]`),
  ),
})).e;

/** Event data as ingest accepts it: JSON properties, a list to iterate, a profile. */
const data = fc.record({
  event: fc.record({
    id: fc.string(),
    type: fc.string(),
    customerId: fc.string(),
    time: fc.integer(),
    properties: fc.record({
      price: fc.oneof(fc.double(), fc.integer(), fc.string()),
      sku: fc.string(),
      items: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 50 }),
      extra: fc.jsonValue({ maxDepth: 3 }),
    }),
  }),
  profile: fc.record({
    traits: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  }),
});

function check(
  source: string,
  vars: Record<string, unknown>,
  expected: 'bool' | 'any',
  tally: FuzzTally,
): void {
  const started = Date.now();
  const compiled = compileCel(source, scope, expected);
  if (!compiled.ok) {
    assert.ok(compiled.errors.length > 0);
    for (const e of compiled.errors) assert.ok(e.trim().length > 0 && !/\n\s+at /.test(e), e);
    tally.add('refused');
    return;
  }
  try {
    compiled.program.run((name) => (name === 'add' ? vars.event : vars[name]));
    tally.add('evaluated');
  } catch (err) {
    assert.ok(err instanceof CelEvaluationError, `not a CelEvaluationError: ${(err as Error).stack}`);
    assert.ok(err.message.startsWith(`CEL '${source}': `), err.message);
    tally.add('evaluation error');
  }
  assert.ok(Date.now() - started < CASE_DEADLINE_MS, `${source} took ${Date.now() - started} ms`);
}

describe('fuzz: CEL expressions compile or are refused with a reason; evaluation is bounded', () => {
  it('compiles and evaluates generated expressions over generated events', function () {
    this.timeout(fuzzTimeout(CI_RUNS, 20));
    const tally = new FuzzTally('CEL expressions (grammar)');
    fc.assert(
      fc.property(expr, data, fc.constantFrom<'bool' | 'any'>('bool', 'any'), (source, vars, expected) =>
        check(source, vars, expected, tally),
      ),
      fuzzParameters(CI_RUNS),
    );
    tally.report();
  });

  it('compiles arbitrary text, and nested comprehensions over event data, within the limits', function () {
    this.timeout(fuzzTimeout(CI_RUNS, 20));
    const tally = new FuzzTally('CEL expressions (arbitrary text, nesting)');
    const nestedLoops = fc
      .tuple(
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom('event.properties.items', '[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]'),
      )
      .map(([depth, range]) => {
        let body = 'true';
        for (let i = depth; i > 0; i--) body = `${range}.exists(v${i}, ${body})`;
        return body;
      });
    const source = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.string({
        unit: fc.constantFrom('(', ')', '[', ']', '{', '}', '"', "'", '\\', 'r', 'b', ' ', '.', 'a'),
        maxLength: 80,
      }),
      nestedLoops,
      fc.integer({ min: 1, max: 1_500 }).map((n) => Array(n).fill('1').join('+') + ' > 0'),
    );
    fc.assert(
      fc.property(source, data, (s, vars) => {
        check(s, vars, 'bool', tally);
        assert.ok(s.length <= DEFINITION_LIMITS.maxCelLength || !compileCel(s, scope, 'bool').ok);
      }),
      fuzzParameters(CI_RUNS),
    );
    tally.report();
  });
});
