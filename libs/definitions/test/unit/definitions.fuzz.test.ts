import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { fuzzParameters, fuzzTimeout, FuzzTally } from '@kairos/testkit';
import { formatError, parseDefinitions, type DefinitionError } from '../../src';

const CI_RUNS = 200;
/** Far above what validating one generated file takes: past it, validation hangs. */
const CASE_DEADLINE_MS = 5_000;

/** Mostly `valid` (so whole documents pass often enough), sometimes `hostile`. */
function mostly<T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: hostile, weight: 1 });
}

const eventType = mostly(
  fc.constantFrom('cart.item_added', 'order.placed', 'a.b'),
  fc.oneof(fc.constantFrom('Bad Type', '', 'x'.repeat(200)), fc.string({ maxLength: 12 })),
);
const duration = mostly<unknown>(
  fc.constantFrom('1s', '30m', '24h', '7d', '366d', '1h30m'),
  fc.oneof(
    fc.constantFrom('1ms', '999ms', '400d', '0s', 'soon', ''),
    fc.string({ maxLength: 6 }),
    fc.integer(),
  ),
);
const cel = mostly(
  fc.constantFrom('event.properties.price > 10.0', "profile.traits.tier == 'gold'", "event.type == 'a.b'"),
  fc.constantFrom(
    'event.properties.items.exists(i, event.properties.items.exists(j, i == j))',
    '((((((((((((((((((((((((((((((((((true))))))))))))))))))))))))))))))))))',
    'add.properties.sku == event.properties.sku',
    'unknown > 1',
    '1 +',
    'x'.repeat(2_000),
  ),
);
const junk = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
);

/** Trigger patterns, well-formed or not, nested a few levels and sometimes with long lists. */
const pattern: fc.Arbitrary<unknown> = fc.letrec<{ p: unknown }>((tie) => ({
  p: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ event: eventType }),
    fc.record(
      {
        event: eventType,
        where: cel,
        as: mostly(fc.constantFrom('add', 'o'), fc.constantFrom('event', '1x')),
      },
      { requiredKeys: ['event'] },
    ),
    fc.record({
      count: fc.record({ event: eventType, atLeast: fc.oneof(fc.integer(), junk), within: duration }),
    }),
    fc.record({
      absent: fc.record({ event: eventType, where: cel }, { requiredKeys: ['event'] }),
      for: duration,
    }),
    fc.record(
      { sequence: fc.array(tie('p'), { maxLength: 5 }), within: duration },
      { requiredKeys: ['sequence'] },
    ),
    fc.record({ all: fc.array(tie('p'), { maxLength: 5 }), within: duration }, { requiredKeys: ['all'] }),
    fc.record({ any: fc.array(tie('p'), { maxLength: 5 }) }),
    fc
      .integer({ min: 0, max: 1_200 })
      .map((n) => ({ sequence: Array.from({ length: n }, () => ({ event: 'a.b' })) })),
    junk,
  ),
})).p;

const step: fc.Arbitrary<unknown> = fc.letrec<{ s: unknown }>((tie) => ({
  s: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant('exit'),
    fc.record({
      wait: fc.oneof(fc.record({ duration }), fc.record({ until: fc.constantFrom('09:00', '25:00', 'x') })),
    }),
    fc.record({
      send: fc.record(
        {
          channel: mostly(fc.constantFrom('email', 'sms', 'push'), fc.constant('pigeon')),
          subject: fc.oneof(
            fc.constantFrom(
              'Hi {{ profile.traits.name }}',
              "{% include 'package.json' %}",
              '{{ nope.x }}',
              '{{',
            ),
            fc.string({ maxLength: 20 }),
          ),
          template: fc.string({ maxLength: 10 }),
        },
        { requiredKeys: ['channel'] },
      ),
    }),
    fc.record({
      branch: fc.record({
        when: cel,
        then: fc.array(tie('s'), { minLength: 1, maxLength: 3 }),
        else: fc.array(tie('s'), { minLength: 1, maxLength: 3 }),
      }),
    }),
    fc.integer({ min: 90, max: 400 }).map((n) => ({ wait: { duration: `${n}s` } })),
    junk,
  ),
})).s;

const name = mostly(
  fc.constantFrom('t', 'w', 'cart-abandoned'),
  fc.oneof(fc.constantFrom('Bad_Name', ''), fc.string({ maxLength: 10 })),
);
const trigger = fc.record({
  apiVersion: mostly(fc.constant('kairos/v1'), fc.constant('kairos/v2')),
  kind: fc.constant('Trigger'),
  metadata: fc.record({ name }),
  spec: fc.record(
    {
      pattern,
      cooldown: duration,
      priority: mostly<unknown>(fc.integer({ min: 0, max: 100 }), fc.oneof(fc.integer(), junk)),
      description: fc.string(),
    },
    { requiredKeys: ['pattern'] },
  ),
});
const workflow = fc.record({
  apiVersion: fc.constant('kairos/v1'),
  kind: mostly(fc.constant('Workflow'), fc.constant('Pipeline')),
  metadata: fc.record({ name }),
  spec: fc.record({
    trigger: mostly(fc.constant('t'), name),
    steps: mostly<unknown>(fc.array(step, { minLength: 1, maxLength: 6 }), junk),
  }),
});

/** A file of documents as YAML, sometimes with its text cut or a byte of YAML syntax inserted. */
export const file = fc
  .tuple(
    fc.array(mostly<unknown>(fc.oneof(trigger, workflow), fc.jsonValue({ maxDepth: 3 })), {
      minLength: 1,
      maxLength: 3,
    }),
    mostly(
      fc.constant(null),
      fc.tuple(
        fc.nat(),
        fc.constantFrom('', ':', '- ', '{', '[', '&a ', '*a', '!!', '\t', '\n  ', '"', '%YAML 1.2\n'),
      ),
    ),
  )
  .map(([docs, cut]) => {
    const text = docs.map((d) => stringify(d)).join('---\n');
    if (!cut) return text;
    const at = cut[0] % (text.length + 1);
    return text.slice(0, at) + cut[1] + text.slice(at + (cut[1] === '' ? 1 : 0));
  });

/** The property: validation returns (never throws) and each error names its file and what is wrong. */
export function check(text: string, tally: FuzzTally): void {
  const started = Date.now();
  const { documents, errors } = parseDefinitions(text, 'f.yaml');
  assert.ok(Date.now() - started < CASE_DEADLINE_MS, `validation took ${Date.now() - started} ms`);
  for (const e of errors as DefinitionError[]) {
    assert.equal(e.file, 'f.yaml');
    assert.ok(e.message.trim().length > 0, `an error without a message: ${JSON.stringify(e)}`);
    assert.match(formatError(e), /^f\.yaml(:\d+:\d+)? \S/);
    assert.doesNotMatch(e.message, /\n\s+at /, `a stack trace in ${e.message}`);
    assert.doesNotMatch(e.message, /^internal error/, 'validation threw');
  }
  tally.add(errors.length ? 'rejected' : documents.length ? 'accepted' : 'empty');
}

describe('fuzz: the trigger and workflow parser accepts or names what is wrong, never throws', () => {
  it('validates generated definition files (well-formed or not)', function () {
    this.timeout(fuzzTimeout(CI_RUNS, 20));
    const tally = new FuzzTally('definitions parser (generated documents)');
    fc.assert(
      fc.property(file, (text) => check(text, tally)),
      fuzzParameters(CI_RUNS),
    );
    tally.report();
  });

  it('validates arbitrary text', function () {
    this.timeout(fuzzTimeout(CI_RUNS, 10));
    const tally = new FuzzTally('definitions parser (arbitrary text)');
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .array(
          fc.constantFrom(
            'apiVersion: kairos/v1\n',
            'kind: Trigger\n',
            'spec:\n',
            '  pattern: ',
            '[',
            '{',
            '&x ',
            '*x ',
            '---\n',
            '- ',
            ': ',
            '\n',
          ),
          {
            maxLength: 40,
          },
        )
        .map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(text, (t) => check(t, tally)),
      fuzzParameters(CI_RUNS),
    );
    tally.report();
  });
});
