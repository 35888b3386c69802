import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, type Document } from 'yaml';
import { renderSchema, SCHEMA_FILE } from '../../scripts/gen-schema';
import {
  compileCel,
  formatError,
  loadDefinitionsFromPath,
  parseDefinitions,
  type EngineEvent,
  type SequencePattern,
  type TriggerSpec,
  type WorkflowSpec,
} from '../../src';

const EXAMPLES = join(__dirname, '..', '..', '..', 'examples');

function trigger(pattern: string, extra = ''): string {
  return `apiVersion: kairos/v1
kind: Trigger
metadata:
  name: t
spec:${extra}
  pattern:
${pattern
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`;
}

function messages(text: string): string[] {
  return parseDefinitions(text, 'f.yaml').errors.map(formatError);
}

function ev(type: string, properties: Record<string, unknown>): EngineEvent {
  return { id: 'e1', type, customerId: 'c1', time: 0, properties };
}

describe('definitions: validation', () => {
  it('validates the shipped examples (triggers.yaml, workflows.yaml) without errors', async () => {
    const r = await loadDefinitionsFromPath(EXAMPLES);
    assert.deepEqual(r.errors.map(formatError), []);
    assert.deepEqual(
      r.documents.map((d) => `${d.kind}/${d.name}`),
      [
        'Trigger/cart-abandoned',
        'Trigger/high-purchase-intent',
        'Trigger/payment-failures',
        'Trigger/price-drop-on-viewed-item',
        'Trigger/churn-risk',
        'Workflow/cart-recovery',
        'Workflow/payment-rescue',
      ],
    );
  });

  it('keeps the copied examples equal (as YAML data) to the shared examples, but for trait fallbacks', () => {
    // The repo's copy (the one that runs) adds `| default:` to trait lookups, so a sample renders
    // for a customer without the trait; the shared copy predates that and is read-only.
    const withoutFallbacks = (t: string) =>
      t.replace(/(\{\{ profile\.traits\.\w+) \| default: "[^"]*"/g, '$1');
    for (const f of ['triggers.yaml', 'workflows.yaml']) {
      const shared = join('/work/shared/examples', f);
      let text: string;
      try {
        text = readFileSync(shared, 'utf8');
      } catch {
        continue; // shared folder not present outside this machine
      }
      const data = (t: string) => parseAllDocuments(t).map((d) => (d as Document).toJS());
      assert.deepEqual(data(withoutFallbacks(readFileSync(join(EXAMPLES, f), 'utf8'))), data(text), f);
    }
  });

  it('compiles a trigger: durations in ms, default priority 50, no cooldown', () => {
    const r = parseDefinitions(
      trigger(`sequence:\n  - event: a\n    as: x\n  - absent: { event: b }\n    for: 1h30m\nwithin: 7d`),
    );
    assert.deepEqual(r.errors, []);
    const t = (r.documents[0] as { trigger: TriggerSpec }).trigger;
    assert.equal(t.priority, 50);
    assert.equal(t.cooldownMs, 0);
    const seq = t.pattern as SequencePattern;
    assert.equal(seq.kind, 'sequence');
    assert.equal(seq.withinMs, 7 * 86_400_000);
    assert.deepEqual(seq.steps[1], {
      kind: 'absent',
      pattern: { kind: 'event', type: 'b' },
      forMs: 5_400_000,
    });
  });

  it("rejects '30 minutes' with file:line:column, path and the expected form", () => {
    const text = trigger(`sequence:\n  - event: a\n  - event: b\n    within: 3m\nwithin: 30 minutes`);
    assert.deepEqual(messages(text), [
      "f.yaml:10:9 spec.pattern.sequence[1].within: unknown field 'within' (expected one of: event, where, as)",
      "f.yaml:11:13 spec.pattern.within: expected a duration like 30m, got '30 minutes'",
    ]);
  });

  it("refuses a '__proto__' key as an unknown field instead of reading Object.prototype", () => {
    const text = '__proto__: ""\n---\n' + trigger('event: a');
    const found = messages(text);
    assert.ok(
      found.some((m) => /__proto__: unknown field '__proto__'/.test(m)),
      found.join('\n'),
    );
  });

  it('reports every problem of every document at once', () => {
    const text = `apiVersion: kairos/v2
kind: Trigger
metadata: { name: Bad_Name, owner: me }
spec:
  priority: 101
  pattern: { event: a, where: "event.properties.x >" }
---
apiVersion: kairos/v1
kind: Workflow
metadata: { name: w }
spec:
  trigger: missing
  holdout: 120%
  steps:
    - wait: { duration: 2 hours }
    - send: { channel: [fax] }
`;
    const errs = messages(text);
    assert.equal(errs.length, 10, errs.join('\n'));
    assert.ok(errs.some((e) => e.startsWith("f.yaml:1:13 apiVersion: expected one of 'kairos/v1'")));
    assert.ok(errs.some((e) => e.startsWith('f.yaml:3:19 metadata.name: expected a lower-case DNS label')));
    assert.ok(
      errs.includes("f.yaml:3:29 metadata.owner: unknown field 'owner' (expected one of: name, labels)"),
    );
    assert.ok(errs.includes('f.yaml:5:13 spec.priority: expected an integer from 0 to 100, got 101'));
    assert.ok(errs.some((e) => e.startsWith('f.yaml:6:31 spec.pattern.where: CEL syntax error at 1:')));
    assert.ok(errs.some((e) => e.startsWith("f.yaml:12:12 spec.trigger: unknown trigger 'missing'")));
    assert.ok(errs.some((e) => e.startsWith("f.yaml:13:12 spec.holdout: expected a percentage like '10%'")));
    assert.ok(
      errs.includes("f.yaml:15:25 spec.steps[0].wait.duration: expected a duration like 30m, got '2 hours'"),
    );
    assert.ok(
      errs.some((e) => e.startsWith("f.yaml:16:25 spec.steps[1].send.channel[0]: expected one of 'email'")),
    );
    assert.ok(errs.includes("f.yaml:16:13 spec.steps[1].send: expected 'template' or an inline 'body'"));
  });

  it('reports YAML syntax errors with their position', () => {
    const errs = messages('apiVersion: kairos/v1\nkind: [Trigger\n');
    assert.equal(errs.length > 0, true);
    assert.match(errs[0], /^f\.yaml:\d+:\d+ /);
  });

  it('names an alias that a where uses before it is bound', () => {
    const errs = messages(
      trigger(`sequence:\n  - event: a\n    where: "later.properties.x == 1"\n  - event: b\n    as: later`),
    );
    assert.deepEqual(errs, [
      "f.yaml:9:16 spec.pattern.sequence[0].where: alias 'later' is bound by a later step; a condition can only use aliases bound by earlier steps",
    ]);
  });

  it('allows aliases bound by earlier steps and rejects unknown variables and event fields', () => {
    assert.deepEqual(
      messages(
        trigger(
          `sequence:\n  - event: a\n    as: x\n  - event: b\n    where: "event.properties.k == x.properties.k"`,
        ),
      ),
      [],
    );
    const errs = messages(trigger(`event: a\nwhere: "evnt.properties.k == 1 || event.propertes.k == 2"`));
    assert.equal(errs.length, 2);
    assert.match(errs[0], /unknown variable 'evnt' \(available: event, profile\)/);
    assert.match(errs[1], /unknown field 'propertes' on event/);
  });

  it('rejects absent outside a sequence or as its first step', () => {
    const top = messages(trigger(`absent: { event: a }\nfor: 1h`));
    assert.match(top[0], /spec\.pattern\.absent: absent is only allowed as a step of a sequence/);
    const first = messages(trigger(`sequence:\n  - absent: { event: a }\n    for: 1h\n  - event: b`));
    assert.match(first[0], /spec\.pattern\.sequence\[0\]\.absent: absent is only allowed/);
    const inAll = messages(trigger(`all:\n  - event: b\n  - absent: { event: a }\n    for: 1h`));
    assert.match(inAll[0], /spec\.pattern\.all\[1\]\.absent: absent is only allowed/);
  });

  it('rejects duplicate and reserved aliases', () => {
    const errs = messages(
      trigger(`all:\n  - event: a\n    as: x\n  - event: b\n    as: x\n  - event: c\n    as: profile`),
    );
    assert.equal(errs.length, 2, errs.join('\n'));
    assert.match(
      errs[0],
      /spec\.pattern\.all\[1\]\.as: alias 'x' is already bound at spec\.pattern\.all\[0\]\.as/,
    );
    assert.match(errs[1], /'profile' is reserved/);
  });

  it('rejects a pattern with two operators or none', () => {
    assert.match(
      messages(trigger(`event: a\nall: [{ event: b }]`))[0],
      /expected exactly one of .* got event and all/,
    );
    assert.match(messages(trigger(`where: "true"`))[0], /expected a pattern with one of: event, all, any/);
  });

  it('reports duplicate definitions in one set', () => {
    const doc = trigger('event: a');
    assert.match(
      messages(`${doc}---\n${doc}`)[0],
      /f\.yaml:12:9 metadata\.name: duplicate Trigger 't' \(also defined at f\.yaml:1\)/,
    );
  });

  it('compiles a workflow with typed steps, defaults and CEL predicates', () => {
    const text = `${trigger('event: order.completed\nas: order')}---
apiVersion: kairos/v1
kind: Workflow
metadata: { name: w, labels: { team: growth } }
spec:
  trigger: t
  holdout: 12.5%
  quietHours: { from: "21:00", to: "08:00" }
  conversion: { event: order.completed, within: 72h, value: "event.properties.revenue * 2" }
  steps:
    - wait: { until: "09:00" }
    - branch:
        when: "order.properties.total > 100"
        then:
          - send: { channel: preferred, template: vip }
        else:
          - exit
    - send:
        channel: email
        subject: "Hi {{ profile.name }}"
        body: "Your order {{ order.id }}"
    - exit: { reason: done }
`;
    const r = parseDefinitions(text);
    assert.deepEqual(r.errors.map(formatError), []);
    const wf = (r.documents[1] as { workflow: WorkflowSpec }).workflow;
    assert.equal(wf.priority, 50);
    assert.equal(wf.holdoutPercent, 12.5);
    assert.equal(wf.transactional, false);
    assert.deepEqual(wf.aliases, ['order']);
    assert.equal(wf.quietHours?.action, 'defer');
    assert.equal(wf.quietHours?.from.minutes, 21 * 60);
    assert.deepEqual(wf.conversion?.value?.evaluate({ event: ev('order.completed', { revenue: 10 }) }), {
      ok: true,
      value: 20,
    });
    const [wait, branch, send, exit] = wf.steps;
    assert.equal(wait.kind === 'wait' && wait.mode === 'until' && wait.until.text, '09:00');
    assert.equal(branch.id, 'steps[1]');
    assert.ok(branch.kind === 'branch');
    assert.equal(branch.when.test({ bindings: { order: ev('order.completed', { total: 150 }) } }), true);
    assert.equal(branch.when.test({ bindings: { order: ev('order.completed', { total: 50 }) } }), false);
    assert.equal(branch.then[0].id, 'steps[1].branch.then[0]');
    assert.deepEqual(branch.else, [{ id: 'steps[1].branch.else[0]', kind: 'exit' }]);
    assert.ok(send.kind === 'send');
    assert.deepEqual(send.channels, ['email']);
    assert.deepEqual(exit, { id: 'steps[3]', kind: 'exit', reason: 'done' });
  });

  it('compiles wait until best_time with its cap, and refuses max on a time of day or a misspelt until', () => {
    const wf = (steps: string) => `${trigger('event: a')}---
apiVersion: kairos/v1
kind: Workflow
metadata: { name: w }
spec:
  trigger: t
  steps:
${steps}
    - send: { channel: email, body: hi }
`;
    const r = parseDefinitions(
      wf('    - wait: { until: best_time }\n    - wait: { until: best_time, max: 3h }'),
    );
    assert.deepEqual(r.errors.map(formatError), []);
    const [first, second] = (r.documents[1] as { workflow: WorkflowSpec }).workflow.steps;
    assert.deepEqual(first, { id: 'steps[0]', kind: 'wait', mode: 'best-time', maxDelayMs: 24 * 3_600_000 });
    assert.deepEqual(second, { id: 'steps[1]', kind: 'wait', mode: 'best-time', maxDelayMs: 3 * 3_600_000 });
    assert.match(
      messages(wf('    - wait: { until: "09:00", max: 3h }')).join('\n'),
      /steps\[0\]\.wait\.max: max applies to until: best_time only/,
    );
    assert.match(
      messages(wf('    - wait: { until: best_hour }')).join('\n'),
      /steps\[0\]\.wait\.until: expected a time of day like 09:00, or best_time/,
    );
  });

  it('checks workflow expressions and templates against the trigger aliases', () => {
    const text = `${trigger('event: a\nas: add')}---
apiVersion: kairos/v1
kind: Workflow
metadata: { name: w }
spec:
  trigger: t
  conditions: "cart.properties.x > 1"
  steps:
    - escalate:
        to: { slack: "#x" }
        message: "{{ cart.properties.sku }}"
`;
    const errs = messages(text);
    assert.equal(errs.length, 2, errs.join('\n'));
    assert.match(
      errs[0],
      /spec\.conditions: unknown variable 'cart' \(available: event, profile, trigger, add\)/,
    );
    assert.match(errs[1], /spec\.steps\[0\]\.escalate\.message: unknown variable 'cart' in template/);
  });

  it('accepts unknown triggers when asked to, without alias checks', () => {
    const text = `apiVersion: kairos/v1
kind: Workflow
metadata: { name: w }
spec:
  trigger: elsewhere
  conditions: "add.properties.x > 1"
  steps: [exit]
`;
    assert.deepEqual(parseDefinitions(text, 'f', { unknownTriggers: 'allow' }).errors, []);
    const strict = parseDefinitions(text, 'f').errors.map((e) => e.message);
    assert.equal(strict.length, 2);
    assert.match(strict[0], /unknown trigger 'elsewhere'/);
  });

  it('reports a missing path as an error instead of throwing', async () => {
    const r = await loadDefinitionsFromPath('/nonexistent/definitions');
    assert.equal(r.documents.length, 0);
    assert.equal(r.errors.length, 1);
  });
});

describe('definitions: CEL', () => {
  const scope = {
    variables: new Map([
      ['event', 'event' as const],
      ['profile', 'map' as const],
    ]),
  };
  const run = (src: string, properties: Record<string, unknown>, profile: Record<string, unknown> = {}) => {
    const r = compileCel(src, scope, 'any');
    if (!r.ok) throw new Error(r.errors.join('; '));
    return r.program.run((n) => (n === 'event' ? ev('x', properties) : profile));
  };

  it('compares JS numbers with int and double literals alike', () => {
    assert.equal(run('event.properties.price >= 20.0', { price: 25 }), true);
    assert.equal(run('event.properties.price >= 20', { price: 25 }), true);
    assert.equal(run('event.properties.price == 25', { price: 25 }), true);
    assert.equal(run('event.properties.price < 20', { price: 19.5 }), true);
  });

  it('does arithmetic on JS numbers with integer literals', () => {
    assert.equal(run('event.properties.qty + 1', { qty: 2 }), 3);
    assert.equal(run('event.properties.qty * 2 > 3', { qty: 2 }), true);
    assert.equal(run('size(event.properties.items) + 1', { items: [1, 2] }), 3);
  });

  it('reads nested objects, arrays, missing keys with has() and skips undefined values', () => {
    assert.equal(run("event.properties.cart.items[0].sku == 'a'", { cart: { items: [{ sku: 'a' }] } }), true);
    assert.equal(run('has(event.properties.missing)', { missing: undefined }), false);
    assert.equal(run("'vip' in profile.tags", {}, { tags: ['vip'] }), true);
    assert.equal(
      run('event.properties.items.exists(i, i.price > 10)', { items: [{ price: 5 }, { price: 12 }] }),
      true,
    );
  });

  it('rejects non-boolean conditions, unknown functions and mismatched operands at compile time', () => {
    const errs = (src: string) => {
      const r = compileCel(src, scope, 'bool');
      return r.ok ? [] : r.errors;
    };
    assert.match(errs("'abc'")[0], /expected a boolean condition, got an expression of type string/);
    assert.match(errs('event.properties.x + 1')[0] ?? 'none', /none/); // dynamic: decided at runtime
    assert.match(errs('frobnicate(event)')[0], /unknown function 'frobnicate'/);
    assert.match(errs("'a' < 1")[0], /cannot compare a string with a int/);
    assert.match(errs('1 && true')[0], /operator && expects booleans, got a int/);
    assert.match(errs('event.properties.x ==')[0], /CEL syntax error at 1:/);
  });

  it('makes a trigger condition throw (engine counts it false) and a workflow predicate false on errors', () => {
    const r = parseDefinitions(trigger(`event: a\nwhere: "event.properties.price >= 20.0"`));
    const where = (
      (r.documents[0] as { trigger: TriggerSpec }).trigger.pattern as {
        where: { evaluate: (c: unknown) => boolean };
      }
    ).where;
    assert.equal(where.evaluate({ event: ev('a', { price: 30 }), profile: {}, bindings: {} }), true);
    assert.throws(
      () => where.evaluate({ event: ev('a', { price: 'x' }), profile: {}, bindings: {} }),
      /no matching overload/,
    );
    const wf = parseDefinitions(`${trigger('event: a')}---
apiVersion: kairos/v1
kind: Workflow
metadata: { name: w }
spec: { trigger: t, conditions: "profile.score > 3", steps: [exit] }
`);
    const cond = (wf.documents[1] as { workflow: WorkflowSpec }).workflow.conditions!;
    assert.equal(cond.test({ profile: { score: 4 } }), true);
    assert.equal(cond.test({ profile: {} }), false);
    const out = cond.evaluate({ profile: {} });
    assert.equal(out.ok, false);
  });
});

describe('definitions: JSON Schema', () => {
  it('checked-in schema/kairos-v1.schema.json is up to date (regenerate: pnpm --filter @kairos/definitions gen:schema)', () => {
    assert.deepEqual(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')), JSON.parse(renderSchema()));
  });

  it('describes both kinds and rejects unknown fields', () => {
    const s = JSON.parse(renderSchema());
    assert.equal(s.oneOf.length, 2);
    assert.equal(s.$defs.triggerSpec.additionalProperties, false);
    assert.deepEqual(s.$defs.triggerSpec.required, ['pattern']);
    assert.ok(s.$defs.pattern.oneOf.length === 6);
  });
});
