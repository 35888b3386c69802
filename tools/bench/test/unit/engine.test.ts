import assert from 'node:assert/strict';
import { benchmarkEvents, benchmarkTriggers, type Pattern, type TriggerSpec } from '@kairos/patterns';
import { compileFromYaml, runEngineSuite, triggerYaml } from '../../src/engine';

/** A pattern with its conditions replaced by their source, to compare two compilations. */
function shape(p: Pattern): unknown {
  return JSON.parse(
    JSON.stringify(p, (key, value: unknown) =>
      key === 'where' ? (value as { source: string }).source : value,
    ),
  ) as unknown;
}

function conditions(p: Pattern): Array<{ source: string; evaluate: (c: never) => boolean }> {
  const own = 'where' in p && p.where ? [p.where] : [];
  const children = p.kind === 'sequence' ? p.steps : p.kind === 'all' || p.kind === 'any' ? p.of : [];
  const inner = p.kind === 'absent' ? [p.pattern] : [];
  return [...own, ...[...children, ...inner].flatMap(conditions)];
}

describe('engine benchmark: the workload from YAML', () => {
  const native = benchmarkTriggers(50);
  const compiled = compileFromYaml(native);

  it('renders each trigger as a Trigger document naming it', () => {
    const yaml = triggerYaml(native[1]);
    assert.match(yaml, /^apiVersion: kairos\/v1\nkind: Trigger\nmetadata:\n {2}name: bench-1\n/);
    assert.match(yaml, /where: event\.properties\.sku == view\.properties\.sku/);
  });

  it('compiles to the same triggers: patterns, windows, priorities, cooldowns and condition sources', () => {
    assert.equal(compiled.length, native.length);
    const strip = (t: TriggerSpec) => ({ ...t, pattern: shape(t.pattern) });
    assert.deepEqual(compiled.map(strip), native.map(strip));
  });

  it('has CEL conditions that agree with the closures on the workload events', () => {
    const events = benchmarkEvents(2_000, 50, 7, 500);
    const pairs = compiled.flatMap((t, i) => {
      const cel = conditions(t.pattern);
      const js = conditions(native[i].pattern);
      return cel.map((c, k) => [c, js[k]] as const);
    });
    assert.ok(pairs.length >= 20);
    let checked = 0;
    for (const [cel, js] of pairs)
      for (let i = 1; i < events.length; i++) {
        const ctx = {
          event: events[i],
          profile: {},
          bindings: { view: events[i - 1], start: events[i - 1] },
        };
        assert.equal(cel.evaluate(ctx as never), js.evaluate(ctx as never), cel.source);
        checked++;
      }
    assert.ok(checked > 20_000);
  });

  it('reports both paths, which fire the same', async function () {
    this.timeout(60_000);
    const r = await runEngineSuite({ events: 20_000, customers: 500, repeats: 1 });
    assert.deepEqual(
      r.paths.map((p) => p.name),
      ['yaml/cel', 'native'],
    );
    assert.ok(r.paths[0].fired > 0);
    assert.equal(r.paths[0].fired, r.paths[1].fired);
    assert.equal(r.engine_events_per_s, r.paths[0].events_per_s);
    assert.equal(r.engine_native_events_per_s, r.paths[1].events_per_s);
    assert.match(r.table, /yaml\/cel: triggers fired\s+[\d,]+\n/);
    assert.match(r.table, /native: triggers fired\s+[\d,]+\n/);
  });
});
