import assert from 'node:assert/strict';
import {
  parseEscalationTargets,
  selectChannels,
  type Channel,
  type SelectionInput,
  type SelectionOptions,
} from '../../src/domain/selection';

const opts: SelectionOptions = {
  available: new Set<Channel>(['email', 'sms', 'push', 'webhook', 'in_app', 'slack']),
  defaultOrder: ['email', 'push', 'sms', 'in_app'],
  escalationTargets: { 'sales-desk': { slack_webhook: 'http://slack/sales' } },
};

const input = (p: Partial<SelectionInput>): SelectionInput => ({
  customerId: 'c1',
  channels: ['email'],
  recipient: { email: 'a@b.c', phone: '+1', push_token: 't' },
  metadata: { consent_marketing: 'true' },
  transactional: false,
  escalation: false,
  ...p,
});

const planned = (p: Partial<SelectionInput>, o: SelectionOptions = opts) =>
  selectChannels(input(p), o).plan.map((x) => x.channel);

describe('channel selection', () => {
  it('keeps the requested order as the fallback list', () => {
    assert.deepEqual(planned({ channels: ['push', 'email', 'sms'] }), ['push', 'email', 'sms']);
  });

  it('expands preferred to the preferred channel followed by the default order, without duplicates', () => {
    assert.deepEqual(
      planned({ channels: ['preferred'], metadata: { consent_marketing: 'true', preferred_channel: 'sms' } }),
      ['sms', 'email', 'push', 'in_app'],
    );
  });

  it('reads the preferred channel from the recipient map too', () => {
    assert.deepEqual(
      planned({ channels: ['preferred'], recipient: { phone: '+1', preferred_channel: 'sms' } })[0],
      'sms',
    );
  });

  it('uses the default order when there is no preference', () => {
    assert.deepEqual(planned({ channels: ['preferred'] }), ['email', 'push', 'sms', 'in_app']);
  });

  it('suppresses marketing without consent, with the reason on every channel', () => {
    const sel = selectChannels(input({ channels: ['email', 'sms'], metadata: {} }), opts);
    assert.deepEqual(sel.plan, []);
    assert.deepEqual(
      sel.skipped.map((s) => s.reason),
      ['no_marketing_consent', 'no_marketing_consent'],
    );
  });

  it('sends transactional messages without marketing consent (reachability only)', () => {
    assert.deepEqual(
      planned({ channels: ['email'], metadata: { consent_marketing: 'false' }, transactional: true }),
      ['email'],
    );
  });

  it('skips opted-out channels for marketing but not for transactional messages', () => {
    const metadata = { consent_marketing: 'true', opted_out_channels: 'email,in-app' };
    assert.deepEqual(planned({ channels: ['email', 'sms'], metadata }), ['sms']);
    assert.deepEqual(planned({ channels: ['email', 'sms'], metadata, transactional: true }), [
      'email',
      'sms',
    ]);
  });

  it('skips channels without an address and channels without a configured adapter', () => {
    const limited = { ...opts, available: new Set<Channel>(['email', 'in_app']) };
    const sel = selectChannels(input({ channels: ['webhook', 'sms', 'in_app'], recipient: {} }), limited);
    assert.deepEqual(
      sel.plan.map((p) => [p.channel, p.address]),
      [['in_app', 'c1']],
    );
    assert.deepEqual(sel.skipped, [
      { channel: 'webhook', reason: 'channel_not_configured' },
      { channel: 'sms', reason: 'channel_not_configured' },
    ]);
    assert.deepEqual(planned({ channels: ['email', 'push'], recipient: { push_token: 'x' } }), ['push']);
  });

  it('reports unknown channels and accepts aliases of in_app', () => {
    const sel = selectChannels(input({ channels: ['fax', 'in-app'] }), opts);
    assert.deepEqual(sel.skipped, [{ channel: 'fax', reason: 'unknown_channel' }]);
    assert.deepEqual(
      sel.plan.map((p) => p.channel),
      ['in_app'],
    );
  });

  it('routes escalations to named targets and the default Slack URL without needing consent', () => {
    const sel = selectChannels(
      input({ channels: ['slack'], escalation: true, metadata: {}, recipient: { target: 'sales-desk' } }),
      opts,
    );
    assert.deepEqual(sel.plan, [{ channel: 'slack', address: 'http://slack/sales' }]);
    const def = selectChannels(
      input({ channels: ['slack'], escalation: true, metadata: {}, recipient: {} }),
      {
        ...opts,
        defaultSlackUrl: 'http://slack/default',
      },
    );
    assert.deepEqual(def.plan, [{ channel: 'slack', address: 'http://slack/default' }]);
  });

  it('parses escalation targets from JSON and names the bad one', () => {
    assert.deepEqual(parseEscalationTargets('{"a":"http://x","b":{"email":"o@x"}}'), {
      a: { slack_webhook: 'http://x' },
      b: { email: 'o@x' },
    });
    assert.match(String(parseEscalationTargets('{"a":3}')), /target 'a'/);
    assert.match(String(parseEscalationTargets('nope')), /not JSON/);
  });
});
