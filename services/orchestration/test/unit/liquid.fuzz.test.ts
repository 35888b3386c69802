import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzParameters, fuzzTimeout, FuzzTally } from '@kairos/testkit';
import { RenderError, TEMPLATE_LIMITS, TemplateRenderer } from '../../src/domain/content';

const CI_RUNS = 300;
/** A render bounded by the render-time limit, with room for a busy machine: past this, it hangs. */
const CASE_DEADLINE_MS = TEMPLATE_LIMITS.maxRenderMs * 3;

const name = fc.constantFrom('event', 'profile', 'trigger', 'add', 'x', 'forloop', 'nope', '');
const path = fc
  .array(
    fc.oneof(fc.constantFrom('properties', 'traits', 'sku', 'price', 'size', 'first', '0'), fc.string()),
    {
      maxLength: 3,
    },
  )
  .map((p) => p.join('.'));
const literal = fc.oneof(
  fc.integer({ min: -1e9, max: 1e9 }).map(String),
  fc.double().map(String),
  fc.string({ maxLength: 20 }).map((s) => `'${s.replace(/'/g, '')}'`),
  fc.constantFrom('nil', 'true', 'false', 'empty', 'blank'),
);
const value = fc.oneof(
  literal,
  fc.tuple(name, path).map(([n, p]) => (p ? `${n}.${p}` : n)),
);
const filter = fc.oneof(
  fc.constantFrom('upcase', 'downcase', 'size', 'first', 'last', 'reverse', 'json', 'strip', 'escape'),
  fc
    .tuple(
      fc.constantFrom(
        'append',
        'prepend',
        'default',
        'split',
        'join',
        'times',
        'plus',
        'slice',
        'truncate',
        'date',
      ),
      value,
    )
    .map(([f, v]) => `${f}: ${v}`),
  fc.string({ maxLength: 8 }),
);
const output = fc
  .tuple(value, fc.array(filter, { maxLength: 3 }))
  .map(([v, fs]) => `{{ ${[v, ...fs].join(' | ')} }}`);
const bound = fc.oneof(fc.integer({ min: -5, max: 50 }), fc.constantFrom(1e6, 1e8, 2 ** 31, 1e15));
const rangeLoop = fc.tuple(bound, bound).map(([a, b]) => `(${a}..${b})`);
const fileName = fc.oneof(
  fc.constantFrom("'package.json'", "'/etc/hostname'", "'../package.json'", "'README.md'", 'event.type'),
  fc.string({ maxLength: 12 }).map((s) => `'${s.replace(/'/g, '')}'`),
);

/** Template fragments: text, outputs, tags (some malformed), nested a few levels. */
const template: fc.Arbitrary<string> = fc.letrec<{ node: string; body: string }>((tie) => ({
  body: fc.array(tie('node'), { maxLength: 4 }).map((parts) => parts.join('')),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ maxLength: 16 }),
    fc.constantFrom('{{', '}}', '{%', '%}', '{% endfor %}', '{% endif %}', '{{ }}', '{%- -%}'),
    output,
    fc.tuple(fc.constantFrom('include', 'render', 'layout'), fileName).map(([t, f]) => `{% ${t} ${f} %}`),
    fc
      .tuple(fc.constantFrom('i', 'x', 'event'), fc.oneof(rangeLoop, value), tie('body'))
      .map(([v, r, b]) => `{% for ${v} in ${r} %}${b}{% endfor %}`),
    fc
      .tuple(
        value,
        fc.constantFrom('==', '!=', '>', '<', 'contains', 'and', 'or'),
        value,
        tie('body'),
        tie('body'),
      )
      .map(([a, op, b, t, e]) => `{% if ${a} ${op} ${b} %}${t}{% else %}${e}{% endif %}`),
    fc
      .tuple(fc.constantFrom('s', 'x', 'event'), value, fc.array(filter, { maxLength: 2 }))
      .map(([v, e, fs]) => `{% assign ${v} = ${[e, ...fs].join(' | ')} %}`),
    fc.tuple(tie('body')).map(([b]) => `{% capture s %}${b}{% endcapture %}{{ s }}`),
    fc.tuple(tie('body')).map(([b]) => `{% raw %}${b}{% endraw %}`),
    fc
      .tuple(fc.constantFrom('cycle', 'tablerow', 'unless', 'case', 'increment', 'liquid', 'echo', 'break'))
      .map(([t]) => `{% ${t} %}`),
  ),
})).body;

/** Customer data as events and profiles carry it: JSON values nested a little. */
const data = fc.jsonValue({ maxDepth: 3 });
const scope = fc.record({
  event: fc.record({
    type: fc.string(),
    properties: fc.dictionary(fc.string({ maxLength: 8 }), data, { maxKeys: 4 }),
  }),
  profile: fc.record({ traits: fc.dictionary(fc.string({ maxLength: 8 }), data, { maxKeys: 4 }) }),
  trigger: fc.record({ name: fc.string() }),
  add: data,
});

/** The root package.json's field: a template output holding it read the file. */
const FILE_MARKER = '"packageManager"';

describe('fuzz: Liquid templates render or fail with a RenderError, bounded, never reading files', () => {
  it('renders every generated template to text or a RenderError naming the field', async function () {
    this.timeout(fuzzTimeout(CI_RUNS, 50));
    const renderer = new TemplateRenderer();
    const tally = new FuzzTally('liquid templates');
    await fc.assert(
      fc.asyncProperty(template, scope, async (text, vars) => {
        const started = Date.now();
        let outcome: string;
        try {
          const out = await renderer.render(text, vars, 'body');
          assert.ok(out.length <= TEMPLATE_LIMITS.maxRenderAlloc, `output of ${out.length} characters`);
          assert.ok(!out.includes(FILE_MARKER), 'a template read a file');
          outcome = 'rendered';
        } catch (err) {
          assert.ok(err instanceof RenderError, `not a RenderError: ${(err as Error).stack}`);
          assert.match(err.message, /^body: /);
          outcome = 'refused';
        }
        assert.ok(Date.now() - started < CASE_DEADLINE_MS, `render took ${Date.now() - started} ms`);
        tally.add(outcome);
      }),
      fuzzParameters(CI_RUNS),
    );
    tally.report();
  });
});
