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
});
