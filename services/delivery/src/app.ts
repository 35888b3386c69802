import { SCHEMAS } from '@kairos/contracts';
import { ConsumeLoop, ErasureConsumer, Publisher } from '@kairos/messaging';
import {
  AccessControl,
  ensureIndexes,
  killAt,
  provide,
  requireBearer,
  serviceContainer,
  systemClock,
  type HttpServer,
  type DbServiceInfrastructure,
  startRetentionSweeper,
} from '@kairos/service-kit';
import type { ChannelAdapter } from './channels/adapter';
import { EmailAdapter } from './channels/email';
import { PushAdapter, SmsAdapter, WebhookAdapter } from './channels/http';
import { InboxAdapter, InboxStore } from './channels/inbox';
import { ChannelLimits } from './domain/channel-limits';
import {
  callbackSecret,
  DEV_TRACKING_SECRET,
  DEV_WEBHOOK_SECRET,
  retentionRules,
  type DeliveryConfig,
} from './config';
import { DeliveryService } from './delivery-service';
import { DeliveryHttpApi } from './http-api';
import { DeliveryLedger } from './ledger';
import { OutcomePublisher } from './outcomes';
import type { Channel, SelectionOptions } from './domain/selection';
import { deliveryConsumer, deliveryProvisioning } from './provisioning';
import { DELIVERY_TOKENS } from './tokens';

/** What delivery runs on; tests pass their own. */
export interface DeliveryInfrastructure extends DbServiceInfrastructure {
  /** Where the tracking and callback routes are added. */
  http: HttpServer;
  /** Who holds the credentials `/inbox` asks for (a service token or the admin's); none: refused. */
  access?: AccessControl;
}

export interface DeliveryApp {
  /** Stops the consume loop (in-flight sends finish and are acked), then closes the channel adapters. */
  stop(): Promise<void>;
}

/**
 * Composition: ledger and inbox, channel adapters, limits and selection, the DI container, the
 * HTTP API and the consume loop over `actions.requested.>`.
 */
export async function startDelivery(
  cfg: DeliveryConfig,
  infra: DeliveryInfrastructure,
): Promise<DeliveryApp> {
  const { logger, nc, db } = infra;
  const clock = infra.clock ?? systemClock;
  const devSecrets = [
    cfg.KAIROS_TRACKING_SECRET === DEV_TRACKING_SECRET && 'KAIROS_TRACKING_SECRET',
    cfg.KAIROS_WEBHOOK_SECRET === DEV_WEBHOOK_SECRET && 'KAIROS_WEBHOOK_SECRET',
  ].filter(Boolean);
  if (devSecrets.length)
    logger.warn(
      { settings: devSecrets },
      'signing with the public development secret: set these from a Secret',
    );
  const ledger = new DeliveryLedger(db, clock);
  const inbox = new InboxStore(db, clock);
  await ensureIndexes(db, deliveryProvisioning.indexes, cfg);

  const limits = new ChannelLimits(
    cfg.KAIROS_RATE_LIMITS,
    cfg.KAIROS_PROVIDER_CONCURRENCY,
    cfg.KAIROS_DEFAULT_CONCURRENCY,
    clock,
  );
  const timeoutMs = cfg.KAIROS_HTTP_TIMEOUT;
  const adapters = new Map<Channel, ChannelAdapter>();
  const add = (a: ChannelAdapter) => adapters.set(a.channel, a);
  add(
    new EmailAdapter({
      smtpUrl: cfg.KAIROS_SMTP_URL,
      from: cfg.KAIROS_EMAIL_FROM,
      timeoutMs: cfg.KAIROS_SMTP_TIMEOUT,
      maxConnections: limits.concurrencyOf('email'),
      tracking: {
        baseUrl: cfg.KAIROS_TRACKING_BASE_URL,
        secret: cfg.KAIROS_TRACKING_SECRET,
        ttlMs: cfg.KAIROS_TRACKING_TTL,
      },
      clock,
    }),
  );
  if (cfg.KAIROS_SMS_PROVIDER_URL) {
    add(
      new SmsAdapter({ url: cfg.KAIROS_SMS_PROVIDER_URL, token: cfg.KAIROS_SMS_PROVIDER_TOKEN, timeoutMs }),
    );
  }
  if (cfg.KAIROS_PUSH_PROVIDER_URL) {
    add(
      new PushAdapter({
        url: cfg.KAIROS_PUSH_PROVIDER_URL,
        token: cfg.KAIROS_PUSH_PROVIDER_TOKEN,
        timeoutMs,
      }),
    );
  }
  add(new WebhookAdapter('webhook', { secret: cfg.KAIROS_WEBHOOK_SECRET, timeoutMs, clock }));
  add(new WebhookAdapter('slack', { secret: cfg.KAIROS_WEBHOOK_SECRET, timeoutMs, clock }));
  add(new InboxAdapter(inbox));

  const selection: SelectionOptions = {
    available: new Set(adapters.keys()),
    defaultOrder: cfg.KAIROS_DEFAULT_CHANNELS,
    escalationTargets: cfg.KAIROS_ESCALATION_TARGETS,
    defaultSlackUrl: cfg.KAIROS_SLACK_WEBHOOK_URL,
  };
  if (cfg.KAIROS_FAULT_POINT !== 'off') {
    logger.warn(
      { point: cfg.KAIROS_FAULT_POINT },
      'KAIROS_FAULT_POINT is set: this process kills itself (test only)',
    );
  }
  const publisher = new Publisher(nc, { logger });
  const spec = deliveryConsumer(cfg);

  const container = serviceContainer(cfg, { logger, nc, clock, publisher, db }, [
    provide(DELIVERY_TOKENS.Adapters, adapters),
    provide(DELIVERY_TOKENS.Ledger, ledger),
    provide(DELIVERY_TOKENS.Inbox, inbox),
    provide(DELIVERY_TOKENS.Outcomes, new OutcomePublisher(publisher, clock)),
    provide(DELIVERY_TOKENS.Limits, limits),
    provide(DELIVERY_TOKENS.SelectionOptions, selection),
    provide(DELIVERY_TOKENS.RetryPolicy, { maxDeliver: spec.maxDeliver }),
    provide(DELIVERY_TOKENS.Guarantees, cfg.KAIROS_DELIVERY_GUARANTEES),
    provide(DELIVERY_TOKENS.FaultHook, killAt(cfg.KAIROS_FAULT_POINT, logger)),
    provide(DELIVERY_TOKENS.TrackingOptions, {
      secret: cfg.KAIROS_TRACKING_SECRET,
      previousSecrets: cfg.KAIROS_TRACKING_PREVIOUS_SECRETS,
    }),
    provide(DELIVERY_TOKENS.CallbackSecret, callbackSecret(cfg)),
  ]);
  const service = container.resolve(DeliveryService);
  const api = container.resolve(DeliveryHttpApi);
  // Tracking links and callbacks carry their own signatures; the inbox holds message bodies, so the
  // application backend that shows it to its logged-in customer calls it with a service token.
  infra.http.addRoute(requireBearer(infra.access ?? new AccessControl({}), 'service', '/inbox', api.route));
  infra.http.addRoute(api.route);

  const loop = new ConsumeLoop(nc, {
    spec,
    schema: SCHEMAS.ActionRequested,
    mode: { kind: 'concurrent', max: cfg.KAIROS_DELIVERY_MAX_IN_FLIGHT },
    provision: cfg.KAIROS_PROVISION,
    logger,
    publisher,
    handler: async (action, mctx) => {
      await service.deliver(action, { deliveryCount: mctx.deliveryCount });
    },
  });
  await loop.start();
  const erasure = new ErasureConsumer(nc, {
    provision: cfg.KAIROS_PROVISION,
    service: 'delivery',
    erase: async (customerId) => ({
      inbox: await inbox.deleteCustomer(customerId),
      deliveries_stripped: await ledger.eraseCustomer(customerId),
    }),
    inputs: () => [spec],
    publisher,
    logger,
  });
  await erasure.start();
  const retention = startRetentionSweeper(db, retentionRules(cfg), {
    intervalMs: cfg.KAIROS_RETENTION_SWEEP_INTERVAL,
    clock,
    logger,
  });
  logger.info(
    {
      channels: [...adapters.keys()],
      rateLimits: cfg.KAIROS_RATE_LIMITS,
      guarantees: cfg.KAIROS_DELIVERY_GUARANTEES,
      maxInFlight: cfg.KAIROS_DELIVERY_MAX_IN_FLIGHT,
    },
    'delivery consuming actions.requested.>',
  );
  return {
    async stop() {
      retention.stop();
      await erasure.drain();
      await loop.drain();
      await Promise.all([...adapters.values()].map((a) => a.close?.()));
    },
  };
}
