import * as assert from 'node:assert/strict';
import type { DefinitionDocument, DefinitionStore, HistoryEntry } from '../../src';

export function triggerDoc(name: string, priority = 50, alias = 'add'): DefinitionDocument {
  return {
    apiVersion: 'kairos/v1',
    kind: 'Trigger',
    metadata: { name },
    spec: { priority, pattern: { event: 'cart.item_added', as: alias } },
  };
}

export function workflowDoc(name: string, trigger: string, conditions?: string): DefinitionDocument {
  return {
    apiVersion: 'kairos/v1',
    kind: 'Workflow',
    metadata: { name },
    spec: {
      trigger,
      ...(conditions ? { conditions } : {}),
      steps: [{ send: { channel: 'email', template: 'x' } }],
    },
  };
}

/**
 * Puts trigger `a` at priorities 10 and 20, deletes it (twice: the second finds nothing) and puts
 * it again at 30, asserting each step; returns its history. Every store backend passes this.
 */
export async function deleteAndRecreate(store: DefinitionStore): Promise<HistoryEntry[]> {
  await store.apply([triggerDoc('a', 10)]);
  assert.deepEqual(await store.apply([triggerDoc('a', 20)]), [
    { kind: 'Trigger', name: 'a', action: 'updated', version: 2 },
  ]);
  assert.equal(await store.delete('Trigger', 'a'), true);
  assert.equal(await store.delete('Trigger', 'a'), false);
  assert.equal(await store.get('Trigger', 'a'), undefined);
  assert.deepEqual(await store.apply([triggerDoc('a', 30)]), [
    { kind: 'Trigger', name: 'a', action: 'created', version: 3 },
  ]);
  const h = await store.history('Trigger', 'a');
  assert.deepEqual(
    h.map((e) => (e.operation === 'put' ? `v${e.version}:${e.document.spec.priority}` : 'deleted')),
    ['v1:10', 'v2:20', 'deleted', 'v3:30'],
  );
  return h;
}
