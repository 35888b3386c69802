import * as assert from 'node:assert/strict';
import * as nodePath from 'node:path';
import { DateTime } from 'luxon';
import { actions, partitionOf, profiles, type triggers } from '@kairos/contracts';
import { openNatsDefinitionStore, parseDefinitions } from '@kairos/definitions';
import { createLogger } from '@kairos/service-kit';
import { waitFor } from '@kairos/testkit';
import { startOrchestration, type OrchestrationApp } from '../../src/app';
import { loadOrchestrationConfig } from '../../src/config';
import { runIdFor } from '../../src/domain/hashing';
import { useOrchestrationPeers, type CustomerProfile } from '../support/peers';
import { cartHighRun } from '../support/runs';
import { ActionCollector, fired, publishFired } from '../support/triggers';

const PKG = nodePath.resolve(__dirname, '../../..');
const { OutcomeStatus } = actions;

describe('orchestration service on NATS JetStream and FerretDB', function () {
  this.timeout(60_000);
  describe('with the service running in-process', suite);

  function suite() {
    let app: OrchestrationApp;
    const peers = useOrchestrationPeers('orch', 'orchestration-test', async () => {
      await app?.stop();
    });
    const { profileService, nats, mongo } = peers;
    let collector: ActionCollector;
    /** Shifts the service's clock (quiet hours, caps) without touching the test's. */
    let offsetMs = 0;

    before(async () => {
      collector = new ActionCollector(peers.nc);
      const config = loadOrchestrationConfig({
        NATS_URL: nats.url,
        MONGO_URL: mongo.url,
        KAIROS_PROFILE_ADDR: profileService.address,
        KAIROS_DEFINITIONS_DIR: nodePath.join(PKG, 'test/fixtures/definitions'),
        KAIROS_TEMPLATES_DIR: nodePath.join(PKG, 'templates'),
        KAIROS_SETTLE_WINDOW: '0s',
        KAIROS_GLOBAL_FREQUENCY_CAP: '100/24h',
        KAIROS_TIMER_POLL: '50ms',
        // Tests move the service clock; a long idle sleep would outlast the jump.
        KAIROS_TIMER_MAX_IDLE: '50ms',
      });
      app = await startOrchestration(config, {
        nc: peers.nc,
        db: mongo.db,
        logger: createLogger('orchestration-test', 'silent'),
        http: { addRoute: () => undefined },
        clock: { now: () => Date.now() + offsetMs },
      });
    });

    /** Publishes `tf` as pattern-detection would and returns it. */
    const publish = async (tf: triggers.TriggerFired) => {
      await publishFired(peers.publisher, tf);
      return tf;
    };
    /** Publishes a TriggerFired of `trigger` matching one cart.item_added event with `properties`. */
    const fireCart = (trigger: string, customerId: string, properties: Record<string, unknown>) =>
      publish(fired({ trigger, customerId, alias: 'add', properties }));
    /** A failed payment of 250 for `c`, which `t-escalate` turns into a send and an escalation. */
    const escalateFired = (c: string) =>
      fired({
        trigger: 't-escalate',
        customerId: c,
        alias: 'fail',
        type: 'payment.failed',
        properties: { amount: 250 },
      });
    /** The ActionRequested messages for `c`, once there is one. */
    const requests = (c: string, message?: string) =>
      waitFor(() => collector.requestsFor(c).length > 0 && collector.requestsFor(c), { message });
    /** The first ActionOutcome for `c`. */
    const outcome = (c: string, message?: string) => waitFor(() => collector.outcomesFor(c)[0], { message });

    const customer = (name: string, profile: CustomerProfile = {}) =>
      peers.customer(name, {
        traits: { name: 'Ada' },
        preferences: { preferredChannel: 'push', optedOutChannels: [] },
        journeyStage: 'active',
        ...profile,
        contacts: { phone: '+33600000000', pushTokens: ['tok-1'], ...profile.contacts },
      });

    it('turns a TriggerFired into an ActionRequested with rendered content, recipients and metadata', async () => {
      const c = customer('basic');
      await fireCart('t-cart', c, { sku: 'SKU-42', price: 30 });
      const [req] = await requests(c, 'ActionRequested');
      assert.equal(req.subject, 'actions.requested.push');
      const a = req.action;
      assert.deepEqual(a.channels, ['push', 'email']);
      assert.equal(a.workflow, 'cart-basic');
      assert.equal(a.template, 'cart-reminder');
      assert.equal(a.contentVariant, 'default');
      assert.match(String(a.content?.text), /Hi Ada, your SKU-42 is waiting in your cart\./);
      assert.equal(a.recipient.email, `${c}@example.test`);
      assert.equal(a.recipient.push_token, 'tok-1');
      assert.equal(a.metadata.preferred_channel, 'push');
      assert.equal(a.metadata.consent_marketing, 'true');
      assert.equal(a.metadata.cost_email, '0.001');
      assert.equal(a.transactional, false);
      await waitFor(async () => (await app.runs.get(a.runId))?.state === 'completed', {
        message: 'run completed',
      });
    });

    it('stores runs whose profile and bound events carry dotted keys (event types, property names)', async () => {
      const c = customer('dotted', {
        counters: {
          totalEvents: 2,
          eventsByType: { 'cart.item_added': 1, 'product.viewed': 1 },
          purchases: 0,
          lifetimeValue: 0,
        },
      });
      await fireCart('t-cart', c, { sku: 'SKU-7', price: 30, 'utm.source': 'mail' });
      const [req] = await requests(c, 'ActionRequested for a profile with dotted keys');
      const run = await waitFor(async () => {
        const r = await app.runs.get(req.action.runId);
        return r?.state === 'completed' && r;
      });
      assert.equal(
        (run.profile.counters as { eventsByType: Record<string, number> }).eventsByType['cart.item_added'],
        1,
      );
      assert.equal(run.context.bindings.add.properties['utm.source'], 'mail');
    });

    it('chooses the content variant whose CEL rule matches', async () => {
      const c = customer('premium');
      await fireCart('t-cart', c, { sku: 'TV-9', price: 450 });
      const [req] = await requests(c);
      assert.equal(req.action.template, 'cart-reminder-premium');
      assert.match(String(req.action.content?.subject), /Your TV-9 is reserved for you/);
    });

    it('does not start a run when the entry conditions do not hold', async () => {
      const c = customer('churned', { journeyStage: 'churned' });
      const tf = await fireCart('t-cart', c, { sku: 'X', price: 30 });
      const run = await waitFor(() => app.runs.get(runIdFor(tf.id, 'cart-basic')));
      assert.equal(run.state, 'skipped');
      assert.equal(run.reason, 'conditions_not_met');
      assert.equal(collector.requestsFor(c).length, 0);
    });

    it('starts one run for a redelivered TriggerFired', async () => {
      const c = customer('redelivered');
      const tf = fired({
        trigger: 't-cart',
        customerId: c,
        alias: 'add',
        properties: { sku: 'R', price: 30 },
      });
      await publishFired(peers.publisher, tf, 16, `${tf.id}#1`);
      await waitFor(() => collector.requestsFor(c).length === 1);
      await waitFor(async () => (await app.runs.get(runIdFor(tf.id, 'cart-basic')))?.state === 'completed');
      // The same firing again under another message id, as a replay would deliver it.
      await publishFired(peers.publisher, tf, 16, `${tf.id}#2`);
      // A later trigger on the same partition: once it is handled, so is the replay before it.
      let marker = customer('marker');
      while (partitionOf(marker, 16) !== partitionOf(c, 16)) marker = customer('marker');
      await fireCart('t-cart', marker, { sku: 'M', price: 1 });
      await waitFor(() => collector.requestsFor(marker).length === 1, {
        message: 'a later trigger processed',
      });
      const runs = await app.runs.forCustomer(c);
      assert.equal(runs.length, 1);
      assert.equal(collector.requestsFor(c).length, 1);
    });

    it('keeps a customer in at most one active run of a workflow', async () => {
      const c = customer('reentry');
      const first = await fireCart('t-wait', c, { sku: 'E1', price: 5 });
      const second = await fireCart('t-wait', c, { sku: 'E2', price: 5 });
      const o = await outcome(c, 'SUPPRESSED outcome');
      assert.equal(o.status, OutcomeStatus.OUTCOME_STATUS_SUPPRESSED);
      assert.equal(o.reason, `already_in_workflow:${runIdFor(first.id, 'waiting')}`);
      assert.equal((await app.runs.get(runIdFor(first.id, 'waiting')))?.state, 'waiting');
      assert.equal((await app.runs.get(runIdFor(second.id, 'waiting')))?.state, 'suppressed');
    });

    it('records HELD_OUT for a customer in the control group instead of sending', async () => {
      const c = customer('holdout');
      const tf = await fireCart('t-holdout', c, { sku: 'H', price: 30 });
      const [o] = await waitFor(() => collector.outcomesFor(c).length > 0 && collector.outcomesFor(c));
      assert.equal(o.status, OutcomeStatus.OUTCOME_STATUS_HELD_OUT);
      assert.equal(o.workflow, 'all-held-out');
      assert.equal((await app.runs.get(runIdFor(tf.id, 'all-held-out')))?.state, 'held_out');
      assert.equal(collector.requestsFor(c).length, 0);
    });

    it('lets the higher-priority workflow win within the settle window and suppresses the other with its reason', async () => {
      const c = customer('arbitration');
      await publish(fired({ trigger: 't-low', customerId: c, alias: 'view', type: 'product.viewed' }));
      await fireCart('t-high', c, { sku: 'A', price: 20 });
      const o = await waitFor(
        () => collector.outcomesFor(c).find((x) => x.status === OutcomeStatus.OUTCOME_STATUS_SUPPRESSED),
        {
          message: 'SUPPRESSED outcome',
        },
      );
      assert.equal(o.workflow, 'browse-low');
      assert.equal(o.reason, 'lost_arbitration_to:cart-high');
      const reqs = await requests(c);
      assert.deepEqual(
        reqs.map((r) => r.action.workflow),
        ['cart-high'],
      );
      const runs = await waitFor(async () => {
        const list = await app.runs.forCustomer(c);
        return list.every((r) => r.state !== 'running') && list;
      });
      assert.deepEqual(runs.map((r) => `${r.workflow}:${r.state}`).sort(), [
        'browse-low:suppressed',
        'cart-high:completed',
      ]);
    });

    /** A send of the `capped` workflow an hour ago (inside its cap window). */
    const cappedSendAnHourAgo = (actionId: string, status: string) =>
      profiles.Communication.fromPartial({
        actionId,
        workflow: 'capped',
        channel: 'email',
        status,
        at: new Date(Date.now() - 3_600_000),
      });
    const fireCapped = async (c: string, sku: string) => {
      await fireCart('t-capped', c, { sku, price: 5 });
      return outcome(c);
    };

    it('suppresses a send over the workflow frequency cap counted from ProfileService history', async () => {
      // The profile's embedded list was trimmed inside the window, so only History knows the send.
      const c = customer('capped', { communicationsTrimmedAt: new Date(Date.now() - 60_000) });
      profileService.histories.set(c, [cappedSendAnHourAgo('old-1', 'delivered')]);
      const o = await fireCapped(c, 'C');
      assert.equal(o.status, OutcomeStatus.OUTCOME_STATUS_SUPPRESSED);
      assert.equal(o.reason, 'frequency_cap');
      assert.equal(o.metadata.cap_scope, 'workflow');
      assert.equal(collector.requestsFor(c).length, 0);
      assert.equal(profileService.historyCalls.get(c), 1);
    });

    it("counts the cap from the profile's embedded sends when they cover the window, without a History query", async () => {
      const c = customer('capped-embedded', {
        recentCommunications: [cappedSendAnHourAgo('old-embedded', 'sent')],
      });
      const o = await fireCapped(c, 'E');
      assert.equal(o.reason, 'frequency_cap');
      assert.equal(profileService.historyCalls.get(c), undefined);
    });

    it('enforces the cap on the local send ledger when ProfileService is too slow', async () => {
      const c = customer('slow');
      profileService.slow.add(c);
      await fireCart('t-capped', c, { sku: 'S1', price: 5 });
      const [first] = await requests(c);
      // Fallback: the profile snapshot carried by the trigger (no contacts in it) was used.
      assert.equal(first.action.recipient.email, undefined);
      await fireCart('t-capped', c, { sku: 'S2', price: 5 });
      const o = await outcome(c);
      assert.equal(o.reason, 'frequency_cap');
      assert.equal(collector.requestsFor(c).length, 1);
    });

    it('defers a send in quiet hours (customer time zone) to their end, hot-reloading the workflow from the store', async () => {
      const zone = 'Asia/Tokyo';
      const local = DateTime.now().setZone(zone);
      const from = local.startOf('hour');
      const to = from.plus({ hours: 2 });
      const hhmm = (d: DateTime) => d.toFormat('HH:mm');
      const { documents, errors } = parseDefinitions(
        `apiVersion: kairos/v1
kind: Trigger
metadata: { name: t-quiet }
spec:
  pattern: { event: cart.item_added, as: add }
---
apiVersion: kairos/v1
kind: Workflow
metadata: { name: quiet }
spec:
  trigger: t-quiet
  settle: 0s
  quietHours: { from: "${hhmm(from)}", to: "${hhmm(to)}", action: defer }
  steps:
    - send: { channel: email, template: cart-reminder }
`,
      );
      assert.deepEqual(errors, []);
      const store = await openNatsDefinitionStore(peers.nc);
      await store.apply(documents);
      await waitFor(() => app.workflows.get('quiet'), { message: 'workflow hot-reloaded from the store' });

      const c = customer('quiet', { timeZone: zone });
      const tf = await fireCart('t-quiet', c, { sku: 'Q', price: 5 });
      const runId = runIdFor(tf.id, 'quiet');
      const run = await waitFor(async () => {
        const r = await app.runs.get(runId);
        return r?.state === 'waiting' && r;
      });
      assert.equal(run.waitUntil?.getTime(), to.toMillis());
      assert.equal(collector.requestsFor(c).length, 0);
      // Move the service clock past the end of quiet hours: the deferred send goes out once.
      offsetMs = to.toMillis() - Date.now() + 1_000;
      try {
        await waitFor(() => collector.requestsFor(c).length === 1, { message: 'deferred send' });
      } finally {
        offsetMs = 0;
      }
      await waitFor(async () => (await app.runs.get(runId))?.state === 'completed', {
        message: 'run completed',
      });
    });

    it('escalates to a human with the rendered message and the trigger explanation', async () => {
      const c = customer('escalation');
      await publish(escalateFired(c));
      const reqs = await waitFor(() => collector.requestsFor(c).length === 2 && collector.requestsFor(c));
      const [send, esc] = reqs;
      assert.equal(send.subject, 'actions.requested.preferred');
      assert.equal(send.action.transactional, true);
      assert.equal(esc.subject, 'actions.requested.slack');
      assert.equal(esc.action.escalation, true);
      assert.deepEqual(esc.action.recipient, { slack: '#billing-oncall' });
      assert.equal(esc.action.content?.text, 'Ada failed a payment of 250');
      assert.match(String(esc.action.content?.body), /Why: t-escalate matched/);
    });

    it('completes the run when an escalation cannot render, after the customer was messaged', async () => {
      const c = customer('escalation-no-name', { traits: {} });
      const tf = await publish(escalateFired(c));
      const runId = runIdFor(tf.id, 'escalating');
      const run = await waitFor(async () => {
        const r = await app.runs.get(runId);
        return r && r.state !== 'running' && r;
      });
      assert.equal(run.state, 'completed');
      const failed = run.history.find((e) => e.event === 'escalation_failed');
      assert.match(failed?.detail ?? '', /^render_error: .*profile\.traits\.name/);
      assert.deepEqual(
        collector.requestsFor(c).map((r) => r.subject),
        ['actions.requested.preferred'],
      );
      assert.deepEqual(collector.outcomesFor(c), []);
    });

    it('fails the runs of a settle timer that is given up instead of leaving them settling', async () => {
      const c = customer('abandoned');
      const now = new Date();
      const run = cartHighRun(c, now, { state: 'settling' });
      const { windowId } = run;
      assert.ok(await app.runs.insert(run));
      await app.orchestrator.abandonTimer(
        {
          _id: `settle:${windowId}`,
          kind: 'settle',
          partition: run.partition,
          customerId: c,
          dueAt: now,
          windowId,
          leaseUntil: now,
          attempts: 11,
        },
        'boom',
      );
      const after = await app.runs.get(run._id);
      assert.equal(after?.state, 'failed');
      assert.equal(after?.reason, 'timer_failed: boom');
      const o = await outcome(c);
      assert.equal(o.status, OutcomeStatus.OUTCOME_STATUS_FAILED);
      assert.equal(o.runId, run._id);
    });

    it('fails the run visibly on a rendering error and sends nothing', async () => {
      const c = customer('broken');
      const tf = await fireCart('t-broken', c, { sku: 'B', price: 5 });
      const o = await outcome(c);
      assert.equal(o.status, OutcomeStatus.OUTCOME_STATUS_FAILED);
      assert.match(o.reason, /^render_error: .*no_such_property/);
      const run = await app.runs.get(runIdFor(tf.id, 'broken-content'));
      assert.equal(run?.state, 'failed');
      assert.match(run?.error ?? '', /render_error/);
      assert.equal(collector.requestsFor(c).length, 0);
    });
  }
});
