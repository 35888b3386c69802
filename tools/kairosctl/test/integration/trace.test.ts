import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { actions, SCHEMAS, subjects } from '@kairos/contracts';
import { provisionStreams, Publisher, silentLogger } from '@kairos/messaging';
import { freePort, useNats } from '@kairos/testkit';
import { cli } from '../support';

describe('kairosctl trace against a real NATS', function () {
  const nats = useNats();
  let nc: NatsConnection;

  before(async () => {
    nc = await connect({ servers: nats.url });
    await provisionStreams(nc);
  });
  after(async () => {
    await nc?.close();
  });

  it('shows an interrupted send as outcome unknown with its reason, and says what that means', async () => {
    const publisher = new Publisher(nc, { logger: silentLogger });
    const at = new Date();
    const action = actions.ActionRequested.fromPartial({
      actionId: 'act-trace-unknown',
      runId: 'run-trace-unknown',
      workflow: 'welcome',
      trigger: 'signed-up',
      triggerId: 'fire-trace-unknown',
      customerId: 'c-trace',
      channels: ['email'],
      template: 'welcome',
      requestedAt: at,
    });
    await publisher.publish(subjects.actionRequested('email'), SCHEMAS.ActionRequested, action, {
      msgId: 'req:act-trace-unknown',
    });
    const status = actions.OutcomeStatus.OUTCOME_STATUS_UNKNOWN;
    const reason = 'interrupted mid-send; not resent (at-most-once)';
    await publisher.publish(
      subjects.actionOutcome(status),
      SCHEMAS.ActionOutcome,
      actions.ActionOutcome.fromPartial({ actionId: action.actionId, channel: 'email', status, reason, at }),
      { msgId: 'unknown:act-trace-unknown:email' },
    );

    // No orchestration is running: the run part reports it unreachable, the rest still prints.
    const orchestration = `http://127.0.0.1:${await freePort()}`;
    const r = await cli(['trace', action.actionId], {
      NATS_URL: nats.url,
      KAIROS_ORCHESTRATION_URL: orchestration,
    });
    assert.equal(r.code, 0, r.err.join('\n'));
    const delivery = r.out.slice(r.out.indexOf('Delivery'));
    assert.ok(
      delivery.some((l) => /\sunknown\s+email\s+interrupted mid-send; not resent \(at-most-once\)$/.test(l)),
      delivery.join('\n'),
    );
    assert.ok(
      delivery.some((l) => l.includes('the customer may or may not have the message')),
      delivery.join('\n'),
    );
  });
});
