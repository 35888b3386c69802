import * as assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { useNats } from '@kairos/testkit';
import {
  DefinitionValidationError,
  loadDefinitionsFromPath,
  openNatsDefinitionStore,
  type DefinitionChange,
  type KvDefinitionStore,
} from '../../src';
import { join } from 'node:path';
import { deleteAndRecreate, triggerDoc, workflowDoc } from '../support/docs';

describe('definitions: NATS KV store (integration)', function () {
  let nc: NatsConnection | undefined;
  // Registered before useNats() so it runs before the server is disposed.
  after(async () => {
    await nc?.drain();
  });
  const nats = useNats();
  let store: KvDefinitionStore;
  let bucket = 0;

  beforeEach(async () => {
    nc ??= await connect({ servers: nats.url });
    store = await openNatsDefinitionStore(nc!, { bucket: `kairos-definitions-t${++bucket}` });
  });

  it('applies the examples atomically and reads them back with versions', async () => {
    const loaded = await loadDefinitionsFromPath(join(__dirname, '..', '..', '..', 'examples'));
    assert.deepEqual(loaded.errors, []);
    const results = await store.apply(loaded.documents);
    assert.equal(results.length, 7);
    assert.ok(results.every((r) => r.action === 'created' && r.version === 1));
    const again = await store.apply(loaded.documents);
    assert.ok(again.every((r) => r.action === 'unchanged'));
    assert.equal((await store.list('Trigger')).length, 5);
    assert.equal((await store.list('Workflow')).length, 2);
    const wf = await store.get('Workflow', 'cart-recovery');
    assert.equal(wf?.version, 1);
    assert.equal(wf?.document.spec.trigger, 'cart-abandoned');
  });

  it('keeps versions, history and deletions in the bucket', async () => {
    const h = await deleteAndRecreate(store);
    assert.ok(h.every((e) => e.updatedAt instanceof Date && !Number.isNaN(e.updatedAt.getTime())));
  });

  it('validates against stored triggers and writes nothing on errors', async () => {
    await store.apply([triggerDoc('a')]);
    await assert.rejects(
      store.apply([triggerDoc('b'), workflowDoc('w', 'a', 'nope.properties.x > 1')]),
      DefinitionValidationError,
    );
    assert.equal(await store.get('Trigger', 'b'), undefined);
    await store.apply([workflowDoc('w', 'a', 'add.properties.x > 1')]);
  });

  it('hot-reloads: a watcher sees the current state, then applies and deletes', async () => {
    await store.apply([triggerDoc('a')]);
    const changes: DefinitionChange[] = [];
    let notify: (() => void) | undefined;
    const handle = await store.watch((c) => {
      changes.push(c);
      notify?.();
    });
    await handle.ready;
    assert.deepEqual(
      changes.map((c) => c.type === 'put' && [c.definition.name, c.initial]),
      [['a', true]],
    );
    const until = (n: number) =>
      new Promise<void>((resolve) => {
        notify = () => changes.length >= n && resolve();
        notify();
      });
    await store.apply([triggerDoc('a', 80)]);
    await store.delete('Trigger', 'a');
    await until(3);
    await handle.stop();
    assert.deepEqual(
      changes
        .slice(1)
        .map((c) => (c.type === 'put' ? `put ${c.definition.version} ${c.initial}` : `delete ${c.name}`)),
      ['put 2 false', 'delete a'],
    );
  });
});
