import * as assert from 'node:assert/strict';
import {
  WorkflowRegistry,
  type DefinitionChange,
  type DefinitionDocument,
  type DefinitionStore,
  type RegistryLogger,
} from '../../src';
import { triggerDoc, workflowDoc } from '../support/docs';

function recordingLogger(): RegistryLogger & { lines: string[] } {
  const lines: string[] = [];
  const log = (_fields: object, message: string) => void lines.push(message);
  return { lines, info: log, warn: log, error: log };
}

/** A store whose watch hands each change to the registry as the test sends it. */
function fakeStore(): {
  store: DefinitionStore;
  put(doc: DefinitionDocument, version: number): void;
  remove(name: string): void;
} {
  let deliver: (c: DefinitionChange) => void = () => undefined;
  const store = {
    watch: async (fn: (c: DefinitionChange) => void) => {
      deliver = fn;
      return { ready: Promise.resolve(), stop: async () => undefined };
    },
  } as unknown as DefinitionStore;
  return {
    store,
    put: (document, version) =>
      deliver({
        type: 'put',
        initial: false,
        definition: { kind: document.kind, name: document.metadata.name, version, document },
      } as DefinitionChange),
    remove: (name) => deliver({ type: 'delete', kind: 'Workflow', name, revision: 0, initial: false }),
  };
}

describe('WorkflowRegistry', () => {
  it('follows the store: indexes workflows by trigger and tells listeners of every change', async () => {
    const fake = fakeStore();
    const registry = new WorkflowRegistry(recordingLogger());
    const seen: string[][] = [];
    registry.onChange((list) => seen.push(list.map((w) => w.name).sort()));
    await registry.follow(fake.store);
    fake.put(triggerDoc('a'), 1);
    fake.put(workflowDoc('w1', 'a'), 1);
    fake.put(workflowDoc('w2', 'a'), 1);
    assert.deepEqual(
      registry
        .forTrigger('a')
        .map((w) => w.name)
        .sort(),
      ['w1', 'w2'],
    );
    fake.remove('w1');
    assert.deepEqual(
      registry.forTrigger('a').map((w) => w.name),
      ['w2'],
    );
    assert.deepEqual(seen, [['w1'], ['w1', 'w2'], ['w2']]);
  });

  it('keeps the version in force when a stored change does not compile', async () => {
    const fake = fakeStore();
    const logger = recordingLogger();
    const registry = new WorkflowRegistry(logger);
    await registry.follow(fake.store);
    fake.put(workflowDoc('w', 'a', 'event.properties.sku == "x"'), 1);
    fake.put(workflowDoc('w', 'a', 'event.properties.sku =='), 2);
    assert.equal(registry.get('w')?.version, 1);
    assert.ok(logger.lines.includes('workflow does not compile; previous version kept'));
  });
});
