import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineDiff, parseEventLine, parseProp } from '../../src';
import { cli, EXAMPLES, predictArgs, ROOT } from '../support';

const BROKEN = `apiVersion: kairos/v1
kind: Trigger
metadata: { name: Bad_Name }
spec:
  pattern:
    count: { event: payment.failed, atLeast: many, within: 5 minutes }
`;

describe('kairosctl validate', function () {
  const dir = mkdtempSync(join(tmpdir(), 'kairosctl-'));
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, BROKEN);

  it('accepts the shared examples with exit 0 and a count', async function () {
    const r = await cli(['validate', '-f', EXAMPLES]);
    assert.equal(r.code, 0);
    assert.match(r.out.join('\n'), /^\d+ documents valid$/);
    assert.deepEqual(r.err, []);
  });

  it('reports every error of a broken file as file:line:col path: message with exit 1', async function () {
    const r = await cli(['validate', '-f', broken]);
    assert.equal(r.code, 1);
    assert.deepEqual(
      r.err.filter((l) => l.startsWith(broken)),
      [
        `${broken}:3:19 metadata.name: expected a lower-case DNS label (a-z, 0-9, -; at most 63 characters, starting and ending alphanumeric), got 'Bad_Name'`,
        `${broken}:6:46 spec.pattern.count.atLeast: expected an integer from 1 to 1000, got 'many'`,
        `${broken}:6:60 spec.pattern.count.within: expected a duration like 30m, got '5 minutes'`,
      ],
    );
    assert.ok(r.err.includes('3 error(s)'));
  });

  it('reports a missing path as an error (exit 1)', async function () {
    const r = await cli(['validate', '-f', join(dir, 'nope.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.err[0], /nope\.yaml.*ENOENT/);
  });

  it('exits 2 naming the fix for usage errors', async function () {
    const cases: Array<[string[], RegExp]> = [
      [['validate'], /missing -f <file\|dir>/],
      [['validate', '-f', EXAMPLES, '--strict-mode'], /Unknown option '--strict-mode'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['history', 'trigger'], /missing <name>/],
      [['get', 'gadget'], /unknown kind 'gadget'/],
      [['simulate', '-f', broken], /exactly one of --events .* or --since/],
      [['simulate', '-f', broken, '--since', 'yesterday'], /--since expects a duration/],
      [['send', '--customer', 'c1'], /missing --type/],
      [['send', '--type', 'a.b', '--customer', 'c1', '--prop', 'novalue'], /--prop expects key=value/],
      [['explain', 'only-trigger'], /expected <trigger> <customer>/],
      [['profile'], /expected <customer>/],
      [[], /Usage: kairosctl/],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv);
      assert.equal(r.code, 2, `exit code of ${argv.join(' ')}`);
      assert.match(r.err.join('\n'), message, `message of ${argv.join(' ')}`);
    }
  });

  it('exits 2 naming the argument when an argument is not valid UTF-8 (decoded as U+FFFD)', async function () {
    const r = await cli(['profile', 'Y\ufffd']);
    assert.equal(r.code, 2);
    assert.match(r.err[0], /^error: argument 2 \('Y\ufffd'\) is not valid UTF-8/);
    // As a program, with the raw byte 0xff in argv.
    const main = join(ROOT, 'tools/kairosctl/dist/src/main.js');
    const run = spawnSync('bash', ['-c', `"$0" "$1" profile "$(printf 'Y\\xff')"`, process.execPath, main], {
      encoding: 'utf8',
    });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /argument 2 .* is not valid UTF-8/);
  });

  it('refuses definition files that are not UTF-8 (exit 1), naming the file', async function () {
    const latin1 = join(dir, 'latin1.yaml');
    writeFileSync(latin1, Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    const r = await cli(['validate', '-f', latin1]);
    assert.equal(r.code, 1);
    assert.match(r.err.join('\n'), /latin1\.yaml.*not valid UTF-8/);
  });

  it('exits 3 when a server cannot be reached', async function () {
    const nats = await cli(['get'], { NATS_URL: 'nats://127.0.0.1:1' });
    assert.equal(nats.code, 3);
    assert.match(nats.err[0], /cannot reach NATS at nats:\/\/127\.0\.0\.1:1 \(set NATS_URL\)/);
    const pattern = await cli(['explain', 't', 'c'], { KAIROS_PATTERN_ADDR: '127.0.0.1:1' });
    assert.equal(pattern.code, 3);
    assert.match(pattern.err[0], /cannot reach pattern-detection at 127\.0\.0\.1:1/);
    const ingest = await cli(['send', '--type', 'a.b', '--customer', 'c'], {
      KAIROS_INGEST_ADDR: '127.0.0.1:1',
    });
    assert.equal(ingest.code, 3);
  });

  it('sets the process exit code when run as a program', function () {
    const main = join(ROOT, 'tools/kairosctl/dist/src/main.js');
    assert.match(
      execFileSync(process.execPath, [main, 'validate', '-f', EXAMPLES], { encoding: 'utf8' }),
      /valid/,
    );
    assert.equal(spawnSync(process.execPath, [main, 'validate', '-f', broken]).status, 1);
    assert.equal(spawnSync(process.execPath, [main, 'validate', '--nope']).status, 2);
  });
});

describe('kairosctl helpers', function () {
  it('parses --prop values as numbers, booleans and null, else strings', function () {
    assert.deepEqual(parseProp('price=19.5'), ['price', 19.5]);
    assert.deepEqual(parseProp('gift=true'), ['gift', true]);
    assert.deepEqual(parseProp('sku=A-1=2'), ['sku', 'A-1=2']);
    assert.deepEqual(parseProp('code=007x'), ['code', '007x']);
  });

  it('reads NDJSON events as bare events or enriched events and names the bad line', function () {
    const bare = parseEventLine(
      '{"type":"cart.item_added","customer_id":"c1","occurred_at":"2026-01-01T00:00:00Z","properties":{"price":3}}',
      4,
      'e.ndjson',
    );
    assert.equal(bare.event?.id, 'line-4');
    assert.equal(bare.event?.customerId, 'c1');
    assert.deepEqual(bare.event?.properties, { price: 3 });
    const wrapped = parseEventLine(
      '{"event":{"id":"x","type":"a.b","customerId":"c2","occurredAt":"2026-01-01T00:00:00Z"},"profile":{"journeyStage":"new"}}',
      1,
      'e.ndjson',
    );
    assert.equal(wrapped.profile?.journeyStage, 'new');
    assert.throws(() => parseEventLine('{"type":"a.b"}', 7, 'e.ndjson'), /e\.ndjson:7: customerId/);
    assert.throws(() => parseEventLine('nope', 2, 'e.ndjson'), /e\.ndjson:2: not JSON/);
    assert.throws(
      () =>
        parseEventLine(
          '{"type":"a.b","customer_id":"Y\\udcff","occurred_at":"2026-01-01T00:00:00Z"}',
          3,
          'e.ndjson',
        ),
      /e\.ndjson:3: customer_id: not valid UTF-8/,
    );
  });

  it('refuses event lines the fuzzer found accepted or crashing, naming file:line and the field', function () {
    const at = '"occurred_at":"2026-01-01T00:00:00Z"';
    const cases: Array<[string, string]> = [
      [
        '{"type":"a.b","customer_id":"c","occurred_at":"garbage"}',
        "occurredAt: expected an ISO 8601 time or epoch ms in years 0001-9999, got 'garbage'",
      ],
      [
        '{"type":"a.b","customer_id":"c","occurred_at":1e400}',
        "occurredAt: expected an ISO 8601 time or epoch ms in years 0001-9999, got 'Infinity'",
      ],
      [`{"type":5,"customer_id":"c",${at}}`, 'type: expected a string'],
      [`{"type":"a.b","customer_id":{},${at}}`, 'customerId: expected a string'],
      ['{"event":null}', 'event: expected an object'],
      [`{"event":{"type":"a.b","customerId":"c",${at}},"profile":[]}`, 'profile: expected an object'],
      [`{"type":"a.b","customer_id":"c",${at},"properties":[1]}`, 'properties: expected an object'],
      [`{"type":"a.b","customer_id":"c",${at},"category":"zzz"}`, "category: unknown category 'zzz'"],
      [`{"type":"a.b","customer_id":"c d",${at}}`, 'customerId: must not contain whitespace'],
    ];
    for (const [line, problem] of cases)
      assert.throws(
        () => parseEventLine(line, 5, 'e.ndjson'),
        (err: Error) => err.message.startsWith(`e.ndjson:5: ${problem}`),
        line,
      );
    const deep = `{"type":"a.b","customer_id":"c",${at},"properties":{"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`;
    assert.throws(
      () => parseEventLine(deep, 9, 'e.ndjson'),
      /^CliError: e\.ndjson:9: properties\.a\[0\]\S* nested deeper than 34 levels$/,
    );
  });

  it('predict refuses history from before 3650 days and an --as-of without an ISO form (fuzz finds)', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'kairosctl-'));
    const file = join(dir, 'old.ndjson');
    writeFileSync(
      file,
      '{"type":"order.placed","customer_id":"c1","occurred_at":"2026-01-01T00:00:00Z"}\n' +
        '{"type":"order.placed","customer_id":"c1","occurred_at":-1e300}\n',
    );
    const old = await cli(predictArgs(file));
    assert.equal(old.code, 1);
    assert.equal(
      old.err[0],
      `error: ${file}:2: occurredAt: more than 3650 days before --as-of (-1e+300 ms); predict trains on at most 3650 days of history`,
    );
    const far = await cli([
      'predict',
      '--events',
      file,
      '--as-of',
      '99999999999999999999',
      '--horizon',
      '30',
    ]);
    assert.equal(far.code, 2);
    assert.match(far.err[0], /--as-of expects an ISO 8601 time .* got '99999999999999999999'$/);
  });

  it('diffs lines keeping common ones', function () {
    assert.deepEqual(
      lineDiff(['a', 'b', 'c'], ['a', 'x', 'c']).map((l) => `${l.op}${l.text}`),
      [' a', '-b', '+x', ' c'],
    );
  });
});
