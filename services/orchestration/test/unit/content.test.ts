import * as assert from 'node:assert/strict';
import * as nodePath from 'node:path';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseDefinitions, type SendStep, type WorkflowSpec } from '@kairos/definitions';
import {
  chooseContent,
  MemoryTemplateCatalog,
  parseTemplate,
  RenderError,
  renderSendContent,
  TEMPLATE_LIMITS,
  TemplateRenderer,
} from '../../src/domain/content';
import { compileProgram } from '../../src/domain/program';
import { DirectoryTemplateCatalog } from '../../src/templates';

function workflow(steps: string): WorkflowSpec {
  const { documents, errors } = parseDefinitions(`apiVersion: kairos/v1
kind: Trigger
metadata: { name: t }
spec:
  pattern: { event: cart.item_added, as: add }
---
apiVersion: kairos/v1
kind: Workflow
metadata: { name: w }
spec:
  trigger: t
  steps:
${steps}`);
  assert.deepEqual(errors, []);
  const wf = documents.find((d) => d.kind === 'Workflow');
  assert.ok(wf && wf.kind === 'Workflow');
  return wf.workflow;
}

const ctx = (price: number, extra: Record<string, unknown> = {}) => ({
  profile: { traits: { name: 'Ada', tier: 'gold' }, ...extra },
  bindings: {
    add: {
      id: 'e1',
      type: 'cart.item_added',
      customerId: 'c1',
      time: 0,
      properties: { sku: 'SKU-1', price },
    },
  },
  trigger: { name: 't' },
});

describe('personalization', () => {
  const wf = workflow(`    - send:
        channel: email
        template: cart-reminder
        variants:
          - when: 'add.properties.price >= 1000.0'
            template: cart-reminder-vip
          - when: 'add.properties.price >= 200.0'
            template: cart-reminder-premium
`);
  const step = wf.steps[0] as SendStep;

  it('chooses the first variant whose rule matches, else the default template', () => {
    assert.deepEqual(chooseContent(step, ctx(50)), { template: 'cart-reminder', variant: 'default' });
    assert.deepEqual(chooseContent(step, ctx(300)), {
      template: 'cart-reminder-premium',
      variant: 'variants[1]:cart-reminder-premium',
    });
    assert.deepEqual(chooseContent(step, ctx(5_000)), {
      template: 'cart-reminder-vip',
      variant: 'variants[0]:cart-reminder-vip',
    });
  });

  it('renders a catalog template with aliases, profile and trigger values', async () => {
    const catalog = new MemoryTemplateCatalog({
      'cart-reminder': {
        subject: 'For {{ profile.traits.name }}',
        text: '{{ add.properties.sku }} at {{ add.properties.price }} ({{ trigger.name }})',
      },
    });
    const out = await renderSendContent(
      step,
      chooseContent(step, ctx(50)),
      ctx(50),
      catalog,
      new TemplateRenderer(),
    );
    assert.deepEqual(out, { subject: 'For Ada', text: 'SKU-1 at 50 (t)' });
  });

  it('fails on a missing template', async () => {
    await assert.rejects(
      renderSendContent(
        step,
        { template: 'nope', variant: 'default' },
        ctx(1),
        new MemoryTemplateCatalog({}),
        new TemplateRenderer(),
      ),
      (e: Error) => e instanceof RenderError && /template 'nope' not found/.test(e.message),
    );
  });

  it('fails on a strict undefined variable instead of rendering a blank', async () => {
    const r = new TemplateRenderer();
    await assert.rejects(
      r.render('Hi {{ profile.traits.nickname }}', ctx(1), 'subject'),
      (e: Error) => e instanceof RenderError && /nickname/.test(e.message),
    );
    assert.equal(
      await r.render("Hi {{ profile.traits.nickname | default: 'there' }}", ctx(1), 'subject'),
      'Hi there',
    );
    assert.equal(
      await r.render('{% if profile.traits.nickname %}x{% else %}y{% endif %}', ctx(1), 'subject'),
      'y',
    );
  });

  it('fails on a Liquid syntax error and on an unknown filter', async () => {
    const r = new TemplateRenderer();
    await assert.rejects(r.render('{% if %}', ctx(1), 'body'), RenderError);
    await assert.rejects(r.render('{{ add.properties.sku | shout }}', ctx(1), 'body'), RenderError);
  });

  it('fails when every field renders empty', async () => {
    const r = new TemplateRenderer();
    await assert.rejects(
      r.renderTemplate({ text: '{{ "" }}' }, ctx(1), 'blank'),
      /rendered to an empty message/,
    );
  });

  it('does not expose prototype properties of customer data', async () => {
    await assert.rejects(
      new TemplateRenderer().render('{{ profile.traits.constructor }}', ctx(1), 'x'),
      RenderError,
    );
  });

  it('loads the shipped sample templates', async () => {
    const catalog = new DirectoryTemplateCatalog(nodePath.resolve(__dirname, '../../../templates'), 1_000);
    for (const name of [
      'cart-reminder',
      'cart-reminder-premium',
      'payment-help',
      'browse-intent',
      'vip-welcome',
    ])
      assert.ok(Object.keys(await catalog.get(name)).length > 0, name);
    await assert.rejects(catalog.get('../etc/passwd'), /invalid template name/);
  });

  it('picks up an edited template once its recheck interval has passed', async () => {
    const dir = mkdtempSync(nodePath.join(tmpdir(), 'templates-'));
    try {
      const file = nodePath.join(dir, 'hello.yaml');
      writeFileSync(file, 'subject: one');
      let now = 0;
      const catalog = new DirectoryTemplateCatalog(dir, 1_000, () => now);
      assert.equal((await catalog.get('hello')).subject, 'one');
      writeFileSync(file, 'subject: two');
      utimesSync(file, new Date(), new Date(Date.now() + 5_000)); // a different mtime, whatever the fs resolution
      now = 999;
      assert.equal((await catalog.get('hello')).subject, 'one', 'within the interval: the cached copy');
      now = 1_000;
      assert.equal((await catalog.get('hello')).subject, 'two');
      rmSync(file);
      now = 2_000;
      await assert.rejects(catalog.get('hello'), /template 'hello' not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects malformed catalog files', () => {
    assert.throws(() => parseTemplate('x', 'subject: [1, 2]'), /field 'subject' must be a string/);
    assert.throws(() => parseTemplate('x', 'other: 1'), /expected at least one of/);
    assert.throws(() => parseTemplate('x', 'a: [b'), /invalid YAML/);
  });
});

describe('workflow program', () => {
  it('flattens branches into jumps so a run position is one number', () => {
    const wf = workflow(`    - branch:
        when: 'add.properties.price > 10.0'
        then:
          - send: { channel: email, template: a }
        else:
          - send: { channel: sms, template: b }
    - wait: { duration: 1h }
    - exit
`);
    const p = compileProgram(wf.steps);
    assert.deepEqual(
      p.map((i) => i.op),
      ['branch', 'send', 'jump', 'send', 'wait', 'exit'],
    );
    const branch = p[0];
    assert.ok(branch.op === 'branch' && branch.elseAt === 3);
    const jump = p[2];
    assert.ok(jump.op === 'jump' && jump.to === 4);
  });
});

describe('template limits (no file reads, bounded renders)', () => {
  const r = new TemplateRenderer();
  const refusedFileTag = (e: Error) =>
    e instanceof RenderError && /is not supported: templates cannot read files/.test(e.message);

  it('refuses include, render and layout instead of reading a file from the working directory', async () => {
    for (const tag of [
      "{% include 'package.json' %}",
      "{% render '/etc/hostname' %}",
      "{% layout 'README.md' %}x",
    ])
      await assert.rejects(r.render(tag, {}, 'body'), refusedFileTag, tag);
  });

  it('stops a range loop past the allocation limit instead of rendering it', async () => {
    await assert.rejects(
      r.render('{% for i in (1..100000000) %}{{ i }}{% endfor %}', {}, 'body'),
      (e: Error) => e instanceof RenderError && /memory alloc limit exceeded/.test(e.message),
    );
  });

  it('stops a string doubled in a loop past the allocation limit', async () => {
    const doubling =
      "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s }}";
    await assert.rejects(
      r.render(doubling, {}, 'body'),
      (e: Error) => e instanceof RenderError && /memory alloc limit exceeded/.test(e.message),
    );
  });

  it('stops output written by a loop, directly or into a capture, past the allocation limit', async () => {
    for (const text of [
      // 1,000 characters an iteration: the allocation limit is passed long before the time limit.
      `{% for i in (1..1000000) %}{% raw %}{{ ${'x'.repeat(994)} }}{% endraw %}{% endfor %}`,
      `{% capture s %}{% for i in (1..1000000) %}${'x'.repeat(1_000)}{% endfor %}{% endcapture %}`,
      '{% capture s %}x{% endcapture %}{% for i in (1..40) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}',
    ])
      await assert.rejects(
        r.render(text, {}, 'body'),
        (e: Error) => e instanceof RenderError && /memory alloc limit exceeded/.test(e.message),
        text,
      );
  });

  it('refuses a template longer than the parse limit', async () => {
    await assert.rejects(
      r.render('x'.repeat(TEMPLATE_LIMITS.maxTemplateLength + 1), {}, 'body'),
      (e: Error) => e instanceof RenderError && /parse length limit exceeded/.test(e.message),
    );
  });

  it('still renders loops within the limits', async () => {
    assert.equal(await r.render('{% for i in (1..3) %}{{ i }}{% endfor %}', {}, 'body'), '123');
  });
});
