import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { fuzzParameters, fuzzTimeout, FuzzTally } from '@kairos/testkit';
import { CliError, EXIT, parseEventLine } from '../../src';
import { cli, type Run } from '../support';

const CI_RUNS = 150;
/** Far above one command over a small file: past it, the command hangs. */
const CASE_DEADLINE_MS = 5_000;

const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const time = fc.oneof(
  fc.constantFrom(
    '2026-01-01T00:00:00Z',
    '2026-02-01',
    '0001-01-01T00:00:00Z',
    '+275760-09-13T00:00:00Z',
    'garbage',
    '',
  ),
  fc.integer({ min: -1e16, max: 1e16 }),
  fc.double(),
);
const anyJson = fc.jsonValue({ maxDepth: 3 });
/** Mostly `valid` (so whole files pass often enough), sometimes `hostile`. */
function mostly<T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: valid, weight: 25 }, { arbitrary: hostile, weight: 1 });
}

/** An event object as an NDJSON line holds it: mostly plausible fields, each sometimes hostile. */
const eventObject = fc.record(
  {
    id: mostly<unknown>(fc.constantFrom('e1', 'e2', ''), fc.oneof(text, anyJson)),
    type: mostly<unknown>(
      fc.constantFrom('order.placed', 'cart.item_added', 'app.opened'),
      fc.oneof(text, anyJson),
    ),
    customer_id: mostly<unknown>(fc.constantFrom('c1', 'c2', 'c3'), fc.oneof(text, anyJson)),
    occurred_at: mostly<unknown>(
      fc.integer({ min: Date.parse('2025-06-01'), max: Date.parse('2026-04-01') }),
      fc.oneof(time, anyJson),
    ),
    category: mostly<unknown>(
      fc.constantFrom('EVENT_CATEGORY_SYSTEM', 3),
      fc.oneof(fc.constantFrom('system', 99), anyJson),
    ),
    properties: mostly<unknown>(
      fc.record({ revenue: fc.oneof(fc.double(), fc.integer(), text), sku: text }),
      anyJson,
    ),
    context: anyJson,
  },
  { requiredKeys: ['type', 'customer_id', 'occurred_at'] },
);
/** One line: an event, an {event, profile} wrapper, deep nesting, or no JSON at all. */
const line = fc.oneof(
  { arbitrary: eventObject.map((e) => JSON.stringify(e)), weight: 40 },
  fc.tuple(eventObject, anyJson).map(([event, profile]) => JSON.stringify({ event, profile })),
  fc
    .integer({ min: 1, max: 5_000 })
    .map(
      (n) =>
        `{"type":"a.b","customer_id":"c","occurred_at":0,"properties":{"a":${'['.repeat(n)}${']'.repeat(n)}}}`,
    ),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '{}', '[]', 'null', '{"event":null}', '{"customer_id":"Y\\udcff"}'),
);
/** A file's bytes: lines as UTF-8, sometimes with a byte that is not UTF-8. */
const ndjson = fc
  .tuple(
    fc.array(line, { maxLength: 8 }),
    fc.option(fc.tuple(fc.nat(), fc.constantFrom(0xff, 0xfe, 0xc3, 0x80))),
  )
  .map(([lines, bad]) => {
    const bytes = Buffer.from(lines.join('\n'));
    if (!bad || bytes.length === 0) return bytes;
    const out = Buffer.from(bytes);
    out[bad[0] % out.length] = bad[1];
    return out;
  });

const yamlFragment = fc.constantFrom(
  'apiVersion: kairos/v1\n',
  'kind: Trigger\n',
  'kind: Workflow\n',
  'metadata: { name: t }\n',
  'spec:\n',
  '  pattern: { event: a.b }\n',
  '  pattern: { sequence: [{ event: a.b }, { absent: { event: c.d }, for: 1ms }] }\n',
  '  trigger: t\n',
  '  steps: [exit]\n',
  '---\n',
  '&a [*a]\n',
  '{',
  ': :',
  '\t',
);
const definitionsFile = fc
  .array(fc.oneof({ arbitrary: yamlFragment, weight: 4 }, fc.string({ maxLength: 10 })), { maxLength: 20 })
  .map((parts) => Buffer.from(parts.join('')));

/** Exit 0, or 1 with the file named in the first error line; never a stack trace. */
function checkRun(r: Run, file: string): string {
  const err = r.err.join('\n');
  assert.doesNotMatch(err, /\n\s+at /, `a stack trace:\n${err}`);
  if (r.code === EXIT.ok) return 'accepted';
  assert.equal(r.code, EXIT.failed, err);
  assert.ok(
    r.err[0].startsWith(file) || r.err[0].startsWith(`error: ${file}`),
    `the first error line does not name ${file}: ${r.err[0]}`,
  );
  return 'rejected';
}

describe('fuzz: kairosctl input files are accepted or refused naming file:line and the field', function () {
  const dir = mkdtempSync(join(tmpdir(), 'kairosctl-fuzz-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('validate -f: definitions YAML', async function () {
    this.timeout(fuzzTimeout(CI_RUNS, 20));
    const file = join(dir, 'defs.yaml');
    const tally = new FuzzTally('kairosctl validate (definitions YAML)');
    await fc.assert(
      fc.asyncProperty(definitionsFile, async (bytes) => {
        writeFileSync(file, bytes);
        const started = Date.now();
        tally.add(checkRun(await cli(['validate', '-f', file]), file));
        assert.ok(Date.now() - started < CASE_DEADLINE_MS, `took ${Date.now() - started} ms`);
      }),
      fuzzParameters(CI_RUNS),
    );
    tally.report();
  });

  it('predict --events: events NDJSON', async function () {
    this.timeout(fuzzTimeout(CI_RUNS, 20));
    const file = join(dir, 'events.ndjson');
    const tally = new FuzzTally('kairosctl predict (events NDJSON)');
    await fc.assert(
      fc.asyncProperty(ndjson, async (bytes) => {
        writeFileSync(file, bytes);
        const started = Date.now();
        const r = await cli([
          'predict',
          '--events',
          file,
          '--as-of',
          '2026-03-01T00:00:00Z',
          '--horizon',
          '30',
        ]);
        tally.add(checkRun(r, file));
        assert.ok(Date.now() - started < CASE_DEADLINE_MS, `took ${Date.now() - started} ms`);
      }),
      fuzzParameters(CI_RUNS),
    );
    tally.report();
  });

  it('simulate --events: each NDJSON line', function () {
    this.timeout(fuzzTimeout(CI_RUNS, 5));
    const tally = new FuzzTally('kairosctl simulate (event lines)');
    fc.assert(
      fc.property(line, fc.integer({ min: 1, max: 1e6 }), (l, n) => {
        try {
          const e = parseEventLine(l, n, 'e.ndjson').event!;
          assert.ok(e.type && e.customerId && e.id, JSON.stringify(e));
          assert.ok(Number.isFinite(e.occurredAt?.getTime()), `occurredAt ${e.occurredAt}`);
          assert.ok(e.category >= 0, `category ${e.category}`);
          tally.add('accepted');
        } catch (err) {
          assert.ok(err instanceof CliError, `not a CliError: ${(err as Error).stack}`);
          assert.equal(err.exitCode, EXIT.failed);
          assert.ok(err.message.startsWith(`e.ndjson:${n}: `), err.message);
          tally.add('rejected');
        }
      }),
      fuzzParameters(CI_RUNS * 2),
    );
    tally.report();
  });
});
