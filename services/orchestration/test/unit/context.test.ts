import * as assert from 'node:assert/strict';
import { profiles, triggers } from '@kairos/contracts';
import { boundEvents, profileView, recipientOf } from '../../src/domain/context';

describe('run context', () => {
  it('rebuilds alias events from whole-event bindings and from bare property maps', () => {
    const tf = triggers.TriggerFired.fromPartial({
      customerId: 'c1',
      bindings: {
        add: { id: 'e1', type: 'cart.item_added', customerId: 'c1', time: 42, properties: { price: 250 } },
        view: { sku: 'S' },
      },
    });
    const b = boundEvents(tf);
    assert.deepEqual(b.add, {
      id: 'e1',
      type: 'cart.item_added',
      customerId: 'c1',
      time: 42,
      properties: { price: 250 },
    });
    assert.deepEqual(b.view.properties, { sku: 'S' });
  });

  it('fills profile defaults so expressions see false/empty rather than errors', () => {
    const v = profileView(undefined, 'c9');
    assert.equal(v.customerId, 'c9');
    assert.deepEqual(v.consent, { marketing: false, transactional: false });
    assert.equal(v.journeyStage, '');
  });

  it('takes recipients from the contact points', () => {
    const p = profileView(
      profiles.Profile.fromPartial({
        contacts: { email: 'a@x.test', phone: '+1', pushTokens: ['t1', 't2'], webhookUrl: '' },
      }),
      'c1',
    );
    assert.deepEqual(recipientOf(p), { email: 'a@x.test', phone: '+1', push_token: 't1' });
  });
});
