import * as assert from 'node:assert/strict';
import {
  compileCel,
  compileDocument,
  createMemoryDefinitionStore,
  DefinitionValidationError,
  DEFINITION_LIMITS,
  formatError,
  parseDefinitions,
  type CelScope,
  type DefinitionDocument,
} from '../../src';

const HEAD = 'apiVersion: kairos/v1\nkind: Trigger\nmetadata: { name: t }\n';

function messages(text: string): string[] {
  return parseDefinitions(text, 'f.yaml').errors.map(formatError);
}

/** A pattern of `depth` levels: sequences nested in sequences around one event. */
function nestedPattern(depth: number): unknown {
  let p: unknown = { event: 'a.b' };
  for (let i = 1; i < depth; i++) p = { sequence: [p] };
  return p;
}

function triggerDoc(pattern: unknown): DefinitionDocument {
  return {
    apiVersion: 'kairos/v1',
    kind: 'Trigger',
    metadata: { name: 't' },
    spec: { pattern },
  } as DefinitionDocument;
}

const scope: CelScope = {
  variables: new Map([
    ['event', 'event'],
    ['profile', 'map'],
  ]),
  laterAliases: new Set(),
};

describe('definitions: limits (no stack overflow or YAML exception, a definition error naming the limit)', () => {
  it('reports a YAML alias bomb as over the alias limit instead of throwing', () => {
    let bomb = 'l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++)
      bomb += `l${i}: &l${i} [${Array(10)
        .fill(`*l${i - 1}`)
        .join(', ')}]\n`;
    const text = `${HEAD}spec:\n  description: bomb\n  pattern: { event: a.b }\nlabels:\n${bomb
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n')}`;
    const errors = messages(text);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], /^f\.yaml:\d+:\d+ YAML aliases expand past the limit of 100 \(maxAliasCount\)$/);
  });

  it('reports YAML nested 3,000 deep (flow or block) as nesting deeper than the limit, at its line', () => {
    const flow = `${HEAD}spec:\n  pattern: ${'['.repeat(3_000)}${']'.repeat(3_000)}\n`;
    const [flowError, ...others] = messages(flow);
    assert.deepEqual(others, []);
    assert.match(flowError, /^f\.yaml:5:\d+ nesting deeper than 64 levels of mappings and lists$/);
    let block = `${HEAD}spec:\n`;
    for (let i = 1; i <= 3_000; i++) block += `${' '.repeat(2 * i)}k${i}:\n`;
    const [error, ...rest] = messages(block);
    assert.deepEqual(rest, []);
    assert.match(error, /^f\.yaml:\d+:\d+ nesting deeper than 64 levels of mappings and lists$/);
  });

  it('reports the other documents of the file as usual when one is too deep', () => {
    const deep = `${HEAD}spec: { pattern: ${'['.repeat(100)}${']'.repeat(100)} }\n`;
    const bad = `${HEAD.replace('name: t', 'name: u')}spec: { pattern: { event: a.b }, cooldown: 'soon' }\n`;
    const errors = messages(`${deep}---\n${bad}`);
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.match(errors[0], /^f\.yaml:4:\d+ nesting deeper than 64/);
    assert.match(errors[1], /^f\.yaml:9:\d+ spec\.cooldown: /);
  });

  it(`rejects a pattern nested deeper than ${DEFINITION_LIMITS.maxPatternDepth} levels, and compiles one at the limit`, () => {
    const yaml = (depth: number) => `${HEAD}spec:\n  pattern: ${JSON.stringify(nestedPattern(depth))}\n`;
    const atLimit = parseDefinitions(yaml(DEFINITION_LIMITS.maxPatternDepth), 'f.yaml');
    assert.deepEqual(atLimit.errors, []);
    const over = messages(yaml(DEFINITION_LIMITS.maxPatternDepth + 1));
    assert.equal(over.length, 1, over.join('\n'));
    assert.match(
      over[0],
      /^f\.yaml:5:\d+ spec\.pattern(\.sequence\[0\]){16}: pattern nesting deeper than 16 levels \(all, any, sequence\)$/,
    );
  });

  it('rejects stored documents (no YAML) nested 3,000 deep: compileDocument and the store', async () => {
    const doc = triggerDoc(nestedPattern(3_000));
    assert.throws(
      () => compileDocument(doc),
      (err: unknown) =>
        err instanceof DefinitionValidationError &&
        /spec\.pattern(\.sequence\[0\])+: nesting deeper than 64 levels of mappings and lists/.test(
          err.message,
        ),
    );
    const store = createMemoryDefinitionStore();
    await assert.rejects(store.apply([doc]), /nesting deeper than 64 levels/);
    // Within the document limit, the pattern limit applies.
    assert.throws(
      () => compileDocument(triggerDoc(nestedPattern(20))),
      /pattern nesting deeper than 16 levels/,
    );
  });

  it('rejects CEL with 5,000 nested parentheses before parsing, naming the nesting limit', () => {
    const r = compileCel(`${'('.repeat(5_000)}true${')'.repeat(5_000)}`, scope, 'bool');
    assert.deepEqual(r.ok ? [] : r.errors, [
      'CEL expression nesting deeper than 32 levels of parentheses, brackets and braces',
    ]);
    const atLimit = compileCel(`${'('.repeat(32)}event.properties.n > 1${')'.repeat(32)}`, scope, 'bool');
    assert.ok(atLimit.ok, atLimit.ok ? '' : atLimit.errors.join('; '));
    // Brackets inside string literals are text, not nesting.
    const inString = compileCel(
      `event.properties.s == "${'('.repeat(100)}" || event.properties.s == r'\\'`,
      scope,
      'bool',
    );
    assert.ok(inString.ok, inString.ok ? '' : inString.errors.join('; '));
  });

  it('rejects CEL longer than the length limit (an operator chain nests once per operator)', () => {
    const chain = `${Array(2_000).fill('1').join(' + ')} > 0`;
    const r = compileCel(chain, scope, 'bool');
    assert.deepEqual(r.ok ? [] : r.errors, [`CEL expression longer than 1024 characters (${chain.length})`]);
    // At the limit the worst chain still compiles and runs.
    const longest = `${Array(510).fill('1').join('+')} > 0`;
    assert.ok(longest.length <= DEFINITION_LIMITS.maxCelLength);
    const ok = compileCel(longest, scope, 'bool');
    assert.ok(ok.ok && ok.program.run(() => ({})) === true);
  });

  it('reports CEL over the limits in a trigger at the path of the where', () => {
    const where = `${'('.repeat(40)}true${')'.repeat(40)}`;
    assert.deepEqual(messages(`${HEAD}spec:\n  pattern: { event: a.b, where: "${where}" }\n`), [
      'f.yaml:5:33 spec.pattern.where: CEL expression nesting deeper than 32 levels of parentheses, brackets and braces',
    ]);
  });

  it('reports a mapping or list used as a key at its line, instead of a process warning', () => {
    for (const key of ['[a, b]', '{ a: 1 }']) {
      const errors = messages(`${HEAD}spec:\n  pattern: { event: a.b }\n  ? ${key}\n  : 1\n`);
      assert.deepEqual(errors, ['f.yaml:6:5 a mapping key must be text or a number, not a mapping or list']);
    }
  });

  it('rejects a sequence of 1,000 steps naming the list limit, and accepts one of 32', () => {
    const steps = (n: number) =>
      JSON.stringify({ sequence: Array.from({ length: n }, () => ({ event: 'a.b' })) });
    const over = messages(`${HEAD}spec:\n  pattern: ${steps(1_000)}\n`);
    assert.deepEqual(over, [
      'f.yaml:5:24 spec.pattern.sequence: expected a list of at most 32 items, got 1000',
    ]);
    assert.deepEqual(messages(`${HEAD}spec:\n  pattern: ${steps(DEFINITION_LIMITS.maxPatternItems)}\n`), []);
  });

  it('rejects a trigger of more than 64 event patterns spread over lists within the item limit', () => {
    const list = (n: number) => Array.from({ length: n }, () => ({ event: 'a.b' }));
    const pattern = { any: [{ sequence: list(32) }, { sequence: list(32) }, { event: 'a.c' }] };
    assert.deepEqual(messages(`${HEAD}spec:\n  pattern: ${JSON.stringify(pattern)}\n`), [
      'f.yaml:5:12 spec.pattern: more than 64 event, count and absent patterns in one trigger',
    ]);
  });

  it('rejects sub-second and over-a-year windows, and count.atLeast past the limit, at their paths', () => {
    const text = `${HEAD}spec:
  pattern:
    sequence:
      - { event: a.b }
      - { absent: { event: a.c }, for: 1ms }
      - { count: { event: a.d, atLeast: 1000000, within: 999ms } }
    within: 400d
`;
    assert.deepEqual(messages(text), [
      "f.yaml:8:40 spec.pattern.sequence[1].for: expected a window of at least 1s, got '1ms'",
      'f.yaml:9:41 spec.pattern.sequence[2].count.atLeast: expected an integer from 1 to 1000, got 1000000',
      "f.yaml:9:58 spec.pattern.sequence[2].count.within: expected a window of at least 1s, got '999ms'",
      "f.yaml:10:13 spec.pattern.within: expected a window of at most 366d, got '400d'",
    ]);
  });

  it('rejects a workflow of more than 100 steps', () => {
    const trigger = `${HEAD}spec: { pattern: { event: a.b } }\n`;
    const steps = Array.from({ length: 101 }, () => '    - wait: { duration: 1h }').join('\n');
    const workflow = `apiVersion: kairos/v1\nkind: Workflow\nmetadata: { name: w }\nspec:\n  trigger: t\n  steps:\n${steps}\n`;
    const errors = messages(`${trigger}---\n${workflow}`);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], /^f\.yaml:\d+:\d+ spec\.steps: expected a list of at most 100 items, got 101$/);
  });

  it('rejects CEL whose nested comprehensions may cost more than the limit, and runs one comprehension', () => {
    const nested = compileCel(
      'event.properties.items.exists(a, event.properties.items.exists(b, a == b))',
      scope,
      'bool',
    );
    assert.deepEqual(nested.ok ? [] : nested.errors, [
      'CEL expression may cost up to 8.0e+8 evaluation steps, more than the limit of 1000000 (a comprehension over event or profile data counts 10000 elements; avoid nesting them)',
    ]);
    const literals = `[${Array(100).fill(1).join(',')}]`;
    const cubed = compileCel(
      `${literals}.all(a, ${literals}.all(b, ${literals}.all(c, a == b)))`,
      scope,
      'bool',
    );
    assert.ok(!cubed.ok && /may cost up to/.test(cubed.errors[0]));
    const once = compileCel("event.properties.items.exists(i, i.sku == 'x')", scope, 'bool');
    assert.ok(once.ok, once.ok ? '' : once.errors.join('; '));
    const items = Array.from({ length: 10_000 }, (_, i) => ({ sku: `s${i}` }));
    assert.equal(
      once.program.run((name) => (name === 'event' ? { properties: { items } } : undefined)),
      false,
    );
  });
});
