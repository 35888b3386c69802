import * as assert from 'node:assert/strict';
import {
  createMemoryDefinitionStore,
  DefinitionApplyError,
  DefinitionValidationError,
  KvDefinitionStore,
  MemoryKvBackend,
  type DefinitionChange,
} from '../../src';
import { deleteAndRecreate, triggerDoc, workflowDoc } from '../support/docs';

describe('definitions: store (in-memory backend)', () => {
  it('reports created, then unchanged, then updated with increasing versions', async () => {
    const store = createMemoryDefinitionStore();
    assert.deepEqual(await store.apply([triggerDoc('a'), workflowDoc('w', 'a')]), [
      { kind: 'Trigger', name: 'a', action: 'created', version: 1 },
      { kind: 'Workflow', name: 'w', action: 'created', version: 1 },
    ]);
    assert.deepEqual(await store.apply([triggerDoc('a')]), [
      { kind: 'Trigger', name: 'a', action: 'unchanged', version: 1 },
    ]);
    assert.deepEqual(await store.apply([triggerDoc('a', 70)]), [
      { kind: 'Trigger', name: 'a', action: 'updated', version: 2 },
    ]);
    assert.equal((await store.get('Trigger', 'a'))?.document.spec.priority, 70);
    assert.deepEqual(
      (await store.list()).map((d) => `${d.kind}/${d.name}@${d.version}`),
      ['Trigger/a@2', 'Workflow/w@1'],
    );
    assert.deepEqual(
      (await store.list('Workflow')).map((d) => d.name),
      ['w'],
    );
  });

  it('rejects an invalid set without writing anything', async () => {
    const store = createMemoryDefinitionStore();
    const bad = triggerDoc('b');
    (bad.spec as { cooldown?: string }).cooldown = '30 minutes';
    await assert.rejects(store.apply([triggerDoc('a'), bad]), (err: unknown) => {
      assert.ok(err instanceof DefinitionValidationError);
      assert.equal(err.errors[0].path, 'spec.cooldown');
      assert.match(err.errors[0].message, /expected a duration like 30m, got '30 minutes'/);
      return true;
    });
    assert.deepEqual(await store.list(), []);
  });

  it('checks workflows against stored triggers (aliases and existence)', async () => {
    const store = createMemoryDefinitionStore();
    await store.apply([triggerDoc('a')]);
    await store.apply([workflowDoc('w', 'a', 'add.properties.price > 10')]);
    await assert.rejects(
      store.apply([workflowDoc('w2', 'a', 'cart.properties.price > 10')]),
      /unknown variable 'cart'/,
    );
    await assert.rejects(store.apply([workflowDoc('w3', 'missing')]), /unknown trigger 'missing'/);
  });

  it('keeps history with timestamps, including deletions, and continues versions after re-creation', async () => {
    let t = Date.UTC(2025, 0, 1);
    const store = createMemoryDefinitionStore(() => new Date((t += 1000)));
    const h = await deleteAndRecreate(store);
    assert.equal(h[0].updatedAt.toISOString(), '2025-01-01T00:00:01.000Z');
  });

  it('rolls back earlier writes when a later write fails', async () => {
    const backend = new MemoryKvBackend();
    const store = new KvDefinitionStore(backend);
    await store.apply([triggerDoc('a', 10)]);
    const realCreate = backend.create.bind(backend);
    backend.create = async (key, value) => {
      if (key === 'trigger.c') throw new Error('disk full');
      return realCreate(key, value);
    };
    await assert.rejects(
      store.apply([triggerDoc('a', 20), triggerDoc('b'), triggerDoc('c')]),
      (err: unknown) => {
        assert.ok(err instanceof DefinitionApplyError);
        assert.match(err.message, /trigger\.c \(disk full\); 2 earlier write\(s\) rolled back/);
        return true;
      },
    );
    assert.equal((await store.get('Trigger', 'a'))?.document.spec.priority, 10);
    assert.equal(await store.get('Trigger', 'b'), undefined);
  });

  it('watch delivers the current definitions, then changes in order', async () => {
    const store = createMemoryDefinitionStore();
    await store.apply([triggerDoc('a')]);
    const seen: string[] = [];
    const describe = (c: DefinitionChange) =>
      c.type === 'put'
        ? `${c.initial ? 'initial' : 'put'} ${c.definition.name}@${c.definition.version}`
        : `delete ${c.name}`;
    const handle = await store.watch((c) => seen.push(describe(c)));
    await handle.ready;
    await store.apply([triggerDoc('a', 99), triggerDoc('b')]);
    await store.delete('Trigger', 'b');
    await handle.stop();
    await store.apply([triggerDoc('c')]);
    assert.deepEqual(seen, ['initial a@1', 'put a@2', 'put b@1', 'delete b']);
  });
});
