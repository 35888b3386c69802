import * as assert from 'node:assert/strict';
import { actions, type triggers } from '@kairos/contracts';
import { waitFor, type ServiceProcess } from '@kairos/testkit';
import { runIdFor } from '../../src/domain/hashing';
import type { FaultPoint } from '../../src/faults';
import { RunStore, type RunDoc } from '../../src/store';
import { useOrchestrationPeers } from '../support/peers';
import { startOrchestrationProcess } from '../support/process';
import { cartHighRun } from '../support/runs';
import { fired, publishFired, storedActions } from '../support/triggers';

const { OutcomeStatus } = actions;

/**
 * Each test makes the process SIGKILL itself at one exact point between two durable effects
 * (KAIROS_FAULT_POINT), restarts it without the fault, and checks what the customer and analytics
 * get from the ACTIONS stream: every run reaches its next step, each message exactly once.
 */
describe('orchestration killed between two durable effects', function () {
  this.timeout(120_000);
  describe('then restarted', suite);

  function suite() {
    let proc: ServiceProcess | undefined;
    const peers = useOrchestrationPeers('orchc', 'orchestration-crash-test');
    const { customer, profileService, nats, mongo } = peers;

    const start = async (fault: FaultPoint = 'off') => {
      ({ proc } = await startOrchestrationProcess({
        natsUrl: nats.url,
        mongo,
        profileAddress: profileService.address,
        env: {
          KAIROS_DEFINITIONS_WATCH: 'false',
          KAIROS_TIMER_MAX_IDLE: '500ms',
          // A timer claimed by the killed process is claimable again this long after its claim.
          KAIROS_TIMER_LEASE: '2s',
          KAIROS_FAULT_POINT: fault,
        },
      }));
    };

    /** Runs `act` on a process armed with `fault`, waits until it killed itself, restarts it clean. */
    const crashAndRestart = async (fault: FaultPoint, act: () => Promise<void>) => {
      await start(fault);
      await act();
      await waitFor(() => !proc!.running, { timeoutMs: 30_000, message: `process killed at ${fault}` });
      await start();
    };

    /** Publishes `tf` to a process armed with `fault`, restarts it clean, returns `workflow`'s ended run. */
    const runAfterCrash = async (fault: FaultPoint, tf: triggers.TriggerFired, workflow: string) => {
      await crashAndRestart(fault, () => publishFired(peers.publisher, tf));
      return ended(runIdFor(tf.id, workflow));
    };
    const cart = (trigger: string, customerId: string) =>
      fired({ trigger, customerId, alias: 'add', properties: { sku: 'SKU-9', price: 20 } });
    const runs = () => mongo.db.collection<RunDoc>('runs');
    const ended = (runId: string) =>
      waitFor(
        async () => {
          const run = await runs().findOne({ _id: runId });
          return run && !['settling', 'running', 'waiting'].includes(run.state) && run;
        },
        { timeoutMs: 60_000, message: `run ${runId} ended after the restart` },
      );
    const stored = async (customerId: string) => {
      const all = await storedActions(peers.nc);
      return {
        requested: all.requested.filter((a) => a.customerId === customerId),
        outcomes: all.outcomes.filter((o) => o.customerId === customerId),
      };
    };
    /** What the stream holds for `customerId` once it holds an outcome. */
    const storedWithOutcome = (customerId: string, message?: string) =>
      waitFor(
        async () => {
          const s = await stored(customerId);
          return s.outcomes.length > 0 && s;
        },
        { timeoutMs: 60_000, message },
      );
    /** Asserts that the stream holds one ActionRequested for `customerId`, of run `runId`. */
    const assertRequestedOnce = async (customerId: string, runId: string) =>
      assert.deepEqual(
        (await stored(customerId)).requested.map((a) => a.runId),
        [runId],
      );

    afterEach(async () => {
      await proc?.stop().catch(() => undefined);
      proc = undefined;
    });

    /** Faults after which the run completes and its one action is requested exactly once. */
    const completesOnce: Array<{
      fault: FaultPoint;
      title: string;
      trigger: (customerId: string) => triggers.TriggerFired;
      workflow: string;
      history?: string[];
    }> = [
      {
        fault: 'after-arbitration',
        title: 'requests the winner’s first action exactly once when killed right after arbitration',
        trigger: (c) => cart('t-high', c),
        workflow: 'cart-high',
        history: ['entered', 'settling', 'won', 'sent', 'completed'],
      },
      {
        // The trigger is not acked: it is redelivered to the restarted process after its ack wait.
        fault: 'between-settle-timer-and-window',
        title: 'settles and sends when killed between writing the settle timer and opening its window',
        trigger: (c) => cart('t-high', c),
        workflow: 'cart-high',
      },
      ...(
        [
          ['after-timer-resume', 'after its wait timer resumed the run, before the next step'],
          ['after-step-send', 'after sending it, before the run’s progress is written'],
        ] as const
      ).map(([fault, when]) => ({
        fault,
        title: `requests a step’s action exactly once when killed ${when}`,
        trigger: (c: string) =>
          fired({ trigger: 't-wait', customerId: c, alias: 'add', properties: { sku: 'W', price: 10 } }),
        workflow: 'waiting',
        history: ['entered', 'waiting', 'resumed', 'sent', 'completed'],
      })),
    ];
    for (const t of completesOnce) {
      it(t.title, async () => {
        const c = customer(t.fault);
        const run = await runAfterCrash(t.fault, t.trigger(c), t.workflow);
        assert.equal(run.state, 'completed');
        if (t.history)
          assert.deepEqual(
            run.history.map((e) => e.event),
            t.history,
          );
        await assertRequestedOnce(c, run._id);
      });
    }

    it('publishes the loser’s SUPPRESSED outcome once and the winner’s action once when killed after the loss is written', async () => {
      const c = customer('lost');
      const low = cart('t-low', c);
      const high = cart('t-high', c);
      await crashAndRestart('after-arbitration-loss', async () => {
        await publishFired(peers.publisher, low);
        await publishFired(peers.publisher, high);
      });
      const lowRun = await ended(runIdFor(low.id, 'browse-low'));
      const highRun = await ended(runIdFor(high.id, 'cart-high'));
      assert.equal(lowRun.state, 'suppressed');
      assert.equal(highRun.state, 'completed');
      const { requested, outcomes } = await storedWithOutcome(c, 'SUPPRESSED outcome after the restart');
      assert.deepEqual(
        requested.map((a) => a.runId),
        [highRun._id],
      );
      assert.deepEqual(
        outcomes.map((o) => [o.runId, o.status, o.reason]),
        [[lowRun._id, OutcomeStatus.OUTCOME_STATUS_SUPPRESSED, 'lost_arbitration_to:cart-high']],
      );
    });

    it('publishes the FAILED outcome once when killed after the failure is written', async () => {
      const c = customer('failed');
      const tf = cart('t-broken', c);
      const run = await runAfterCrash('after-run-failed', tf, 'broken-content');
      assert.equal(run.state, 'failed');
      const { requested, outcomes } = await storedWithOutcome(c, 'FAILED outcome after the restart');
      assert.deepEqual(requested, []);
      assert.deepEqual(
        outcomes.map((o) => [o.runId, o.status]),
        [[run._id, OutcomeStatus.OUTCOME_STATUS_FAILED]],
      );
    });

    it('re-drives at start a run left `running` without a driver (stranded before this fix)', async () => {
      const c = customer('stranded');
      const now = new Date();
      const event = {
        id: `ev_${c}`,
        type: 'cart.item_added',
        customerId: c,
        time: now.getTime(),
        properties: { sku: 'SKU-S', price: 20 },
      };
      // As a version before the crash invariant left it: won, then killed; its settle timer gone.
      const run = cartHighRun(c, now, {
        context: { bindings: { add: event }, event, trigger: { name: 't-high' } },
        profile: { customerId: c, traits: {} },
        history: [
          { at: now, event: 'entered' },
          { at: now, event: 'settling' },
          { at: now, event: 'won', detail: 'won among 1' },
        ],
      });
      assert.ok(await new RunStore(mongo.db).insert(run));
      await start();
      const done = await ended(run._id);
      assert.equal(done.state, 'completed');
      await assertRequestedOnce(c, run._id);
    });
  }
});
