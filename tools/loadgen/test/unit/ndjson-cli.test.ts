import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, UsageError } from '../../src';

const MAIN = join(__dirname, '..', '..', 'src', 'main.js');

function cli(args: string[]) {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('ndjson command', function () {
  // Spawns the compiled CLI (a node start each time).
  this.timeout(30_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'loadgen-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one {id, type, category, customerId, occurredAt, properties} object per line over simulated hours', () => {
    const res = cli(['ndjson', '--customers', '200', '--hours', '24', '--seed', '42', '--scenarios', '1']);
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stdout.trimEnd().split('\n');
    assert.ok(lines.length > 1000, `${lines.length} lines`);
    const first = Date.parse('2025-01-06T00:00:00Z');
    const types = new Set<string>();
    for (const line of lines) {
      const e = JSON.parse(line);
      assert.deepEqual(Object.keys(e), ['id', 'type', 'category', 'customerId', 'occurredAt', 'properties']);
      assert.equal(new Date(e.occurredAt).toISOString(), e.occurredAt);
      const at = Date.parse(e.occurredAt);
      assert.ok(at >= first && at < first + 24 * 3_600_000);
      types.add(e.type);
      if (['product.viewed', 'review.read', 'cart.item_added', 'pricing.viewed'].includes(e.type))
        assert.equal(typeof e.properties.sku, 'string', line);
      if (e.type === 'cart.item_added') assert.equal(typeof e.properties.price, 'number');
      if (e.type === 'order.completed') assert.equal(typeof e.properties.revenue, 'number');
      assert.equal(e.category, e.type === 'payment.failed' ? 'system' : 'customer_action');
      if (e.type === 'profile.updated') {
        assert.deepEqual(Object.keys(e.properties.traits), ['name', 'email', 'vip']);
        assert.equal(typeof e.properties.time_zone, 'string');
        assert.equal(typeof e.properties.consent.marketing, 'boolean');
        assert.equal(e.properties.email, e.properties.traits.email);
      }
    }
    for (const t of [
      'page.viewed',
      'product.viewed',
      'cart.item_added',
      'order.completed',
      'profile.updated',
      'payment.failed',
    ])
      assert.ok(types.has(t), `no ${t}`);
    assert.equal(
      cli(['ndjson', '--customers', '200', '--hours', '24', '--seed', '42', '--scenarios', '1']).stdout,
      res.stdout,
    );
  });

  it('writes the ledger with ground truth when asked', () => {
    const ledger = join(dir, 'ledger.json');
    const res = cli([
      'ndjson',
      '--customers',
      '30',
      '--hours',
      '6',
      '--seed',
      '1',
      '--ledger',
      ledger,
      '--out',
      join(dir, 'e.ndjson'),
    ]);
    assert.equal(res.status, 0, res.stderr);
    const doc = JSON.parse(readFileSync(ledger, 'utf8'));
    const lines = readFileSync(join(dir, 'e.ndjson'), 'utf8').trimEnd().split('\n');
    assert.equal(doc.summary.sent, lines.length);
    assert.equal(doc.sent.length, lines.length);
    assert.equal(doc.truth.length, 34);
    assert.ok(
      doc.truth.every((t: any) => 'willChurn' in t && 'nextPurchaseAt' in t && 'preferredHour' in t.traits),
    );
  });

  it('exits 2 naming the bad flag', () => {
    const cases: Array<[string[], RegExp]> = [
      [['run', '--rate', 'fast'], /--rate must be a positive number/],
      [['run', '--rate', '5', '--duration', '-1'], /--duration must be a positive number/],
      [['ndjson', '--hours', '0'], /--hours must be a positive number/],
      [['ndjson', '--customers', '1.5'], /--customers must be an integer/],
      [['run', '--rate', '5', '--nats', 'nats://x:4222'], /--nats is only used with --react/],
      [['run', '--bogus'], /unknown flag --bogus/],
    ];
    for (const [args, message] of cases) {
      const res = cli(args);
      assert.equal(res.status, 2, args.join(' '));
      assert.match(res.stderr, message);
    }
  });
});

describe('argument parsing', () => {
  it('fills defaults and accepts --flag=value', () => {
    const args = parseArgs(['run', '--rate=5', '--react', '--ledger', 'out.json']);
    assert.deepEqual(
      { ...args },
      {
        command: 'run',
        customers: 1000,
        seed: 42,
        scenarios: 1,
        uplift: 0.1,
        churnDeclineDays: 0,
        runId: undefined,
        start: undefined,
        ledger: 'out.json',
        address: '127.0.0.1:50051',
        apiKey: undefined,
        tls: false,
        rate: 5,
        durationS: 60,
        events: undefined,
        timestamps: 'wall',
        react: true,
        nats: 'nats://127.0.0.1:4222',
        reactGraceS: 5,
      },
    );
  });

  it('requires --rate for run and rejects a malformed address', () => {
    assert.throws(
      () => parseArgs(['run']),
      (e: Error) => e instanceof UsageError && /--rate is required/.test(e.message),
    );
    assert.throws(
      () => parseArgs(['run', '--rate', '1', '--address', 'localhost']),
      /--address must be host:port/,
    );
  });
});
