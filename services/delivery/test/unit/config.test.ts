import assert from 'node:assert/strict';
import { ConfigError } from '@kairos/service-kit';
import { loadDeliveryConfig } from '../../src/config';

describe('delivery config', () => {
  it('has safe defaults (ports 50055/8085, tracking TTL 30d)', () => {
    const cfg = loadDeliveryConfig({});
    assert.equal(cfg.KAIROS_GRPC_PORT, 50055);
    assert.equal(cfg.KAIROS_HTTP_PORT, 8085);
    assert.equal(cfg.KAIROS_TRACKING_TTL, 30 * 86_400_000);
    assert.deepEqual(cfg.KAIROS_RATE_LIMITS, {});
    assert.deepEqual(cfg.KAIROS_DEFAULT_CHANNELS, ['email', 'push', 'sms', 'in_app']);
  });

  it('names the variable of every bad value', () => {
    assert.throws(
      () =>
        loadDeliveryConfig({
          KAIROS_RATE_LIMITS: 'email=lots',
          KAIROS_ESCALATION_TARGETS: '[1]',
          KAIROS_SMTP_URL: 'http://x',
        }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /KAIROS_RATE_LIMITS/.test(err.message) &&
        /KAIROS_ESCALATION_TARGETS/.test(err.message) &&
        /KAIROS_SMTP_URL/.test(err.message),
    );
    assert.throws(
      () => loadDeliveryConfig({ KAIROS_SMS_PROVIDER_URL: 'ftp://x' }),
      /KAIROS_SMS_PROVIDER_URL/,
    );
  });
});
