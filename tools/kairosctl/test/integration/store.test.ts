import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useNats } from '@kairos/testkit';
import { cli, EXAMPLES } from '../support';

describe('kairosctl apply / get / history / diff / delete against a real NATS', function () {
  const nats = useNats();
  const env = () => ({ NATS_URL: nats.url });
  const dir = mkdtempSync(join(tmpdir(), 'kairosctl-store-'));

  it('applies the examples, then reports them unchanged on a second apply', async function () {
    const first = await cli(['apply', '-f', EXAMPLES], env());
    assert.equal(first.code, 0, first.err.join('\n'));
    assert.ok(first.out.includes('trigger/cart-abandoned created (v1)'), first.out.join('\n'));
    assert.ok(first.out.every((l) => / created \(v1\)$/.test(l)));
    const second = await cli(['apply', '-f', EXAMPLES], env());
    assert.equal(second.code, 0);
    assert.ok(
      second.out.every((l) => / unchanged \(v1\)$/.test(l)),
      second.out.join('\n'),
    );
  });

  it('shows what a changed file would change, applies it as v2, and lists both versions', async function () {
    const changed = join(dir, 'triggers.yaml');
    writeFileSync(
      changed,
      readFileSync(join(EXAMPLES, 'triggers.yaml'), 'utf8').replace('atLeast: 3', 'atLeast: 4'),
    );
    const d = await cli(['diff', '-f', changed], env());
    assert.equal(d.code, 0);
    assert.ok(d.out.includes('~ trigger/payment-failures would be updated (v1 → v2)'), d.out.join('\n'));
    assert.ok(d.out.some((l) => /^\s+- +atLeast: 3$/.test(l)));
    assert.ok(d.out.some((l) => /^\s+\+ +atLeast: 4$/.test(l)));
    assert.ok(d.out.includes('= trigger/cart-abandoned unchanged (v1)'));
    assert.ok(d.out.includes('1 definition(s) would change'));

    const a = await cli(['apply', '-f', changed], env());
    assert.ok(a.out.includes('trigger/payment-failures updated (v2)'), a.out.join('\n'));

    const h = await cli(['history', 'trigger', 'payment-failures'], env());
    assert.equal(h.code, 0);
    assert.match(h.out[0], /^REVISION\s+VERSION\s+OPERATION\s+AT$/);
    assert.deepEqual(
      h.out.slice(1).map((l) => l.split(/\s+/).slice(1, 3).join(' ')),
      ['v1 applied', 'v2 applied'],
    );
  });

  it('gets definitions as a table and as YAML', async function () {
    const all = await cli(['get'], env());
    assert.equal(all.code, 0);
    assert.match(all.out[0], /^KIND\s+NAME\s+VERSION\s+UPDATED$/);
    assert.ok(
      all.out.some((l) => /^Trigger\s+payment-failures\s+2\s+\d{4}-/.test(l)),
      all.out.join('\n'),
    );
    assert.ok(all.out.some((l) => /^Workflow\s+/.test(l)));
    const workflows = await cli(['get', 'workflows'], env());
    assert.ok(workflows.out.slice(1).every((l) => l.startsWith('Workflow')));
    const y = await cli(['get', 'trigger', 'payment-failures', '-o', 'yaml'], env());
    assert.equal(y.code, 0);
    const text = y.out.join('\n');
    assert.match(text, /^apiVersion: kairos\/v1$/m);
    assert.match(text, /name: payment-failures/);
    assert.match(text, /atLeast: 4/);
    const missing = await cli(['get', 'trigger', 'nope'], env());
    assert.equal(missing.code, 1);
    assert.match(missing.err[0], /trigger\/nope not found/);
  });

  it('rejects definitions that are invalid against the store with exit 1', async function () {
    const wf = join(dir, 'wf.yaml');
    writeFileSync(
      wf,
      `apiVersion: kairos/v1
kind: Workflow
metadata: { name: orphan }
spec:
  trigger: no-such-trigger
  steps:
    - exit: {}
`,
    );
    const r = await cli(['apply', '-f', wf], env());
    assert.equal(r.code, 1);
    assert.match(r.err.join('\n'), /no-such-trigger/);
  });

  it('deletes a definition and records the deletion in its history', async function () {
    const del = await cli(['delete', 'trigger', 'churn-risk'], env());
    assert.equal(del.code, 0);
    assert.deepEqual(del.out, ['trigger/churn-risk deleted']);
    const again = await cli(['delete', 'trigger', 'churn-risk'], env());
    assert.equal(again.code, 1);
    const h = await cli(['history', 'trigger', 'churn-risk'], env());
    assert.match(h.out[h.out.length - 1], /^\d+\s+-\s+deleted\s+/);
  });
});
