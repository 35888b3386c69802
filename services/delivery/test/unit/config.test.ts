import assert from 'node:assert/strict';
import { ConfigError } from '@kairos/service-kit';
import { DEFAULT_GUARANTEES, loadDeliveryConfig } from '../../src/config';

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

  it('resends interrupted sends on HTTP channels and the inbox but not on email by default, fault injection off', () => {
    const cfg = loadDeliveryConfig({});
    assert.deepEqual(cfg.KAIROS_DELIVERY_GUARANTEES, {
      email: 'at-most-once',
      sms: 'at-least-once',
      push: 'at-least-once',
      webhook: 'at-least-once',
      slack: 'at-least-once',
      in_app: 'at-least-once',
    });
    assert.equal(cfg.KAIROS_FAULT_POINT, 'off');
  });

  it('overrides the guarantee of the channels named in KAIROS_DELIVERY_GUARANTEES (aliases allowed)', () => {
    const cfg = loadDeliveryConfig({
      KAIROS_DELIVERY_GUARANTEES: 'email=at-least-once, in-app=at-most-once',
    });
    assert.deepEqual(cfg.KAIROS_DELIVERY_GUARANTEES, {
      ...DEFAULT_GUARANTEES,
      email: 'at-least-once',
      in_app: 'at-most-once',
    });
  });

  it('rejects an unknown guarantee, an unknown channel and an unknown fault point, naming each', () => {
    assert.throws(
      () => loadDeliveryConfig({ KAIROS_DELIVERY_GUARANTEES: 'email=exactly-once' }),
      /KAIROS_DELIVERY_GUARANTEES.*'exactly-once' for email is not one of at-most-once, at-least-once/,
    );
    assert.throws(
      () => loadDeliveryConfig({ KAIROS_DELIVERY_GUARANTEES: 'fax=at-least-once' }),
      /KAIROS_DELIVERY_GUARANTEES.*unknown channel 'fax'/,
    );
    assert.throws(
      () => loadDeliveryConfig({ KAIROS_DELIVERY_GUARANTEES: 'email' }),
      /KAIROS_DELIVERY_GUARANTEES.*'email' is not <channel>=<at-most-once\|at-least-once>/,
    );
    assert.throws(
      () => loadDeliveryConfig({ KAIROS_FAULT_POINT: 'mid-send' }),
      /KAIROS_FAULT_POINT.*one of off, before-send, after-send/,
    );
  });
});

describe('delivery config: retention', () => {
  it('keeps inbox messages 180d and send records 90d by default, sweeping hourly', () => {
    const cfg = loadDeliveryConfig({});
    assert.equal(cfg.KAIROS_INBOX_RETENTION, 180 * 86_400_000);
    assert.equal(cfg.KAIROS_DELIVERY_RECORD_RETENTION, 90 * 86_400_000);
    assert.equal(cfg.KAIROS_RETENTION_SWEEP_INTERVAL, 3_600_000);
  });

  it('refuses a send-record retention shorter than the ACTIONS stream or the tracking links', () => {
    assert.throws(
      () => loadDeliveryConfig({ KAIROS_DELIVERY_RECORD_RETENTION: '7d' }),
      /KAIROS_DELIVERY_RECORD_RETENTION: 0s or at least 90d/,
    );
    assert.throws(
      () => loadDeliveryConfig({ KAIROS_TRACKING_TTL: '120d' }),
      /KAIROS_DELIVERY_RECORD_RETENTION: 0s or at least 120d/,
    );
    assert.equal(
      loadDeliveryConfig({ KAIROS_DELIVERY_RECORD_RETENTION: '0s' }).KAIROS_DELIVERY_RECORD_RETENTION,
      0,
    );
  });
});
