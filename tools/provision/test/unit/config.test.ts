import assert from 'node:assert/strict';
import { ConfigError } from '@kairos/service-kit';
import { loadProvisionConfig } from '../../src/config';

describe('provision configuration', () => {
  it('defaults to one replica and a local NATS', () => {
    const c = loadProvisionConfig({});
    assert.equal(c.NATS_URL, 'nats://127.0.0.1:4222');
    assert.equal(c.KAIROS_STREAM_REPLICAS, 1);
    assert.equal(c.KAIROS_PROVISION_TIMEOUT, 60_000);
  });

  it('refuses a replica count a JetStream stream cannot have, naming the variable', () => {
    assert.throws(
      () => loadProvisionConfig({ KAIROS_STREAM_REPLICAS: '7' }),
      (err: unknown) => err instanceof ConfigError && /KAIROS_STREAM_REPLICAS/.test(err.message),
    );
  });
});
