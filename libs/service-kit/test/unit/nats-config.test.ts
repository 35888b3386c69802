import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsAuthOptions } from '@kairos/messaging';
import { ConfigError, commonConfig, loadConfig } from '../../src/config';

const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadConfig(commonConfig, env);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
};

describe('NATS credentials and TLS settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-nats-settings-'));
  const password = join(dir, 'password');
  const token = join(dir, 'token');
  writeFileSync(password, 's3cret\n');
  writeFileSync(token, 'tok');

  it('provisions by itself unless KAIROS_PROVISION=external, and refuses another mode by name', () => {
    assert.equal(loadConfig(commonConfig, {}).KAIROS_PROVISION, 'self');
    assert.equal(loadConfig(commonConfig, { KAIROS_PROVISION: 'external' }).KAIROS_PROVISION, 'external');
    assert.deepEqual(problemsOf({ KAIROS_PROVISION: 'job' }), [
      "KAIROS_PROVISION: expected one of self, external, got 'job'",
    ]);
  });

  it('refuses credentials in NATS_URL, so no secret sits in the environment or on a command line', () => {
    const [problem] = problemsOf({ NATS_URL: 'nats://svc:pw@127.0.0.1:4222' });
    assert.match(problem, /^NATS_URL: expected .* without credentials/);
    assert.deepEqual(problemsOf({ NATS_URL: 'nats://a:4222, tls://b:4222' }), []);
  });

  it('names a credential file that cannot be read, and credentials that do not go together', () => {
    assert.deepEqual(problemsOf({ NATS_PASSWORD_FILE: join(dir, 'missing') }), [
      `NATS_PASSWORD_FILE: expected the path of a readable file, got '${join(dir, 'missing')}'`,
    ]);
    assert.deepEqual(problemsOf({ NATS_PASSWORD_FILE: password }), [
      'NATS_USER: required with NATS_PASSWORD_FILE',
    ]);
    assert.deepEqual(problemsOf({ NATS_USER: 'svc', NATS_PASSWORD_FILE: password, NATS_TOKEN_FILE: token }), [
      'NATS_PASSWORD_FILE, NATS_TOKEN_FILE: set one way to authenticate, not 2',
    ]);
    assert.deepEqual(problemsOf({ NATS_TLS_CERT: password }), [
      'NATS_TLS_CERT, NATS_TLS_KEY: set both or neither',
    ]);
  });

  it('reads the password file at connect time and turns TLS on with a CA or a tls:// URL', () => {
    const cfg = loadConfig(commonConfig, {
      NATS_USER: 'svc',
      NATS_PASSWORD_FILE: password,
      NATS_TLS_CA: token,
    });
    const { authenticator, tls } = natsAuthOptions(cfg);
    writeFileSync(password, 'rotated');
    assert.deepEqual(authenticator!(), { user: 'svc', pass: 'rotated' });
    assert.deepEqual(tls, { caFile: token });
    assert.deepEqual(natsAuthOptions(loadConfig(commonConfig, { NATS_URL: 'tls://h:4222' })), { tls: {} });
    assert.deepEqual(natsAuthOptions(loadConfig(commonConfig, {})), {});
  });
});
