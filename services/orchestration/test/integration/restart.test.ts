import * as assert from 'node:assert/strict';
import { adminHeaders, waitFor, type ServiceProcess } from '@kairos/testkit';
import { runIdFor } from '../../src/domain/hashing';
import type { RunDoc, TimerDoc } from '../../src/store';
import { useOrchestrationPeers } from '../support/peers';
import { startOrchestrationProcess } from '../support/process';
import { ActionCollector, fired, publishFired } from '../support/triggers';

describe('orchestration service process', function () {
  this.timeout(90_000);

  describe('with a durable wait', () => {
    let proc: ServiceProcess | undefined;
    let httpPort: number;
    const peers = useOrchestrationPeers('orchp', 'orchestration-process-test', async () => {
      await proc?.stop().catch(() => undefined);
    });
    const { profileService, nats, mongo } = peers;
    let collector: ActionCollector;

    const start = async () => {
      ({ proc, httpPort } = await startOrchestrationProcess({
        natsUrl: nats.url,
        mongo,
        profileAddress: profileService.address,
      }));
    };

    before(() => {
      collector = new ActionCollector(peers.nc);
    });

    it('requests the action exactly once after a kill -9 during the wait', async () => {
      await start();
      const customerId = 'restart-1';
      profileService.addProfile({
        customerId,
        contacts: { email: 'r@example.test', phone: '', pushTokens: [], webhookUrl: '' },
      });
      const tf = fired({ trigger: 't-wait', customerId, alias: 'add', properties: { sku: 'W', price: 10 } });
      await publishFired(peers.publisher, tf);
      const runId = runIdFor(tf.id, 'waiting');
      const runs = mongo.db.collection<RunDoc>('runs');
      await waitFor(async () => (await runs.findOne({ _id: runId }))?.state === 'waiting', {
        message: 'run waiting',
      });

      // The run is inspectable over HTTP while it waits.
      const res = await fetch(`http://127.0.0.1:${httpPort}/runs/${runId}`, { headers: adminHeaders() });
      const body = (await res.json()) as { state: string; timers: unknown[] };
      assert.equal(body.state, 'waiting');
      assert.equal(body.timers.length, 1);

      await proc!.kill();
      assert.equal(collector.requestsFor(customerId).length, 0);
      await start();
      await waitFor(async () => (await runs.findOne({ _id: runId }))?.state === 'completed', {
        timeoutMs: 20_000,
        message: 'run completed after restart',
      });
      await waitFor(
        async () => (await mongo.db.collection<TimerDoc>('timers').countDocuments({ runId })) === 0,
        {
          message: 'timer removed',
        },
      );
      const list = await fetch(`http://127.0.0.1:${httpPort}/runs?customer=${customerId}`, {
        headers: adminHeaders(),
      });
      assert.equal(((await list.json()) as { runs: unknown[] }).runs.length, 1);
      assert.equal(collector.requestsFor(customerId).length, 1);
      assert.equal(collector.requestsFor(customerId)[0].action.recipient.email, 'r@example.test');
    });
  });
});
