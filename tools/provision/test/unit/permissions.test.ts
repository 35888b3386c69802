import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPasswords } from '../../src/nats-config';
import {
  ADMIN_USER,
  natsAuthorization,
  renderAuthorization,
  servicePermissions,
} from '../../src/permissions';
import { provisioningOf, SERVICE_PROVISIONING } from '../../src/services';

const options = { partitions: 4, env: {} };
const permissionsOf = (service: string) =>
  servicePermissions(SERVICE_PROVISIONING, provisioningOf(service), options);

describe('NATS permissions generated from the provisioning declarations', () => {
  it('lets a service pull, ack and dead-letter only its own consumers, and reset only those', () => {
    const { publish, subscribe } = permissionsOf('orchestration');
    for (let p = 0; p < 4; p++) {
      assert.ok(publish.allow.includes(`$JS.API.CONSUMER.MSG.NEXT.TRIGGERS.orchestration-p0${p}`));
      assert.ok(publish.allow.includes(`$JS.ACK.TRIGGERS.orchestration-p0${p}.>`));
      assert.ok(publish.allow.includes(`dlq.triggers.fired.${p}.>`));
    }
    assert.ok(publish.allow.includes('$JS.API.CONSUMER.RESET.TRIGGERS.orchestration-p01'));
    assert.ok(!publish.allow.some((s) => /CONSUMER\.RESET\.EVENTS/.test(s)));
    assert.ok(
      !publish.allow.some((s) =>
        /CONSUMER\.(CREATE|DELETE)\.TRIGGERS|STREAM\.(CREATE|UPDATE|DELETE)/.test(s),
      ),
    );
    assert.ok(
      permissionsOf('pattern-detection').publish.allow.includes(
        '$JS.API.CONSUMER.RESET.EVENTS.pattern-detection-p03',
      ),
    );
    assert.deepEqual(subscribe.allow, ['_INBOX.orchestration.>']);
  });

  it('limits ordered scans to their filter and denies every durable they could otherwise reach', () => {
    const { publish } = permissionsOf('pattern-detection');
    assert.ok(publish.allow.includes('$JS.API.CONSUMER.CREATE.EVENTS.*.events.enriched.>'));
    assert.ok(publish.allow.includes('$JS.API.CONSUMER.CREATE.TRIGGERS.*.triggers.fired.>'));
    assert.ok(publish.deny.includes('$JS.API.CONSUMER.MSG.NEXT.EVENTS.enrichment-p02'));
    assert.ok(publish.deny.includes('$JS.API.CONSUMER.MSG.NEXT.TRIGGERS.orchestration-p01'));
    assert.ok(publish.deny.includes('$JS.API.CONSUMER.DELETE.EVENTS.pattern-detection-p00'));
    // Its own consumers stay pullable: a deny would override the allow.
    assert.ok(!publish.deny.includes('$JS.API.CONSUMER.MSG.NEXT.EVENTS.pattern-detection-p00'));
    // A service that scans nothing needs no deny list.
    assert.deepEqual(permissionsOf('delivery').publish.deny, []);
  });

  it('writes KV only where a service writes, and publishes predicted events only from prediction', () => {
    assert.ok(!permissionsOf('analytics').publish.allow.some((s) => s.startsWith('$KV.')));
    assert.ok(permissionsOf('pattern-detection').publish.allow.includes('$KV.kairos-pattern-checkpoints.>'));
    assert.ok(!permissionsOf('pattern-detection').publish.allow.includes('$KV.kairos-definitions.>'));
    assert.ok(permissionsOf('prediction').publish.allow.includes('events.raw.*.predicted.>'));
    assert.ok(!permissionsOf('prediction').publish.allow.includes('events.raw.>'));
  });

  it('renders one user per service and the admin, and names a user without a password', () => {
    const passwords = Object.fromEntries(
      [ADMIN_USER, ...SERVICE_PROVISIONING.map((s) => s.service)].map((u) => [u, `pw-${u}`]),
    );
    const text = renderAuthorization(natsAuthorization(SERVICE_PROVISIONING, { ...options, passwords }));
    const parsed = JSON.parse(text.slice(text.indexOf('authorization: ') + 'authorization: '.length)) as {
      users: Array<{ user: string; permissions?: unknown }>;
    };
    assert.deepEqual(
      parsed.users.map((u) => u.user),
      [ADMIN_USER, ...SERVICE_PROVISIONING.map((s) => s.service)],
    );
    assert.equal(parsed.users[0].permissions, undefined, 'the admin may use every subject');
    const { delivery: _missing, ...partial } = passwords;
    assert.throws(
      () => natsAuthorization(SERVICE_PROVISIONING, { ...options, passwords: partial }),
      /no password for NATS user 'delivery'/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'kairos-users-'));
    assert.throws(() => readPasswords(dir, ['ingest']), new RegExp(`no file ${join(dir, 'ingest')}`));
  });
});
