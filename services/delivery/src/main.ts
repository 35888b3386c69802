import 'reflect-metadata';
import { MongoClient } from 'mongodb';
import { consumerSpec, filters, SCHEMAS, STREAMS } from '@kairos/contracts';
import { connectNats, ConsumeLoop, provisionStreams, Publisher } from '@kairos/messaging';
import {
  createContainer,
  databaseName,
  killAt,
  main,
  systemClock,
  TOKENS,
  type ServiceContext,
} from '@kairos/service-kit';
import type { ChannelAdapter } from './channels/adapter';
import { EmailAdapter } from './channels/email';
import { PushAdapter, SmsAdapter, WebhookAdapter } from './channels/http';
import { InboxAdapter, InboxStore } from './channels/inbox';
import { ChannelLimits } from './channel-limits';
import { loadDeliveryConfig, type DeliveryConfig } from './config';
import { DeliveryService } from './delivery-service';
import { DeliveryHttpApi } from './http-api';
import { DeliveryLedger } from './ledger';
import { OutcomePublisher } from './outcomes';
import type { Channel, SelectionOptions } from './selection';
import { DELIVERY_TOKENS } from './tokens';

export const DURABLE = 'delivery';

async function start(cfg: DeliveryConfig, ctx: ServiceContext): Promise<void> {
  const { logger } = ctx;
  const clock = systemClock;
  const nc = await connectNats({ servers: cfg.NATS_URL.split(','), name: 'delivery', logger });
  ctx.onDrain(async () => {
    await nc.drain();
  });
  await provisionStreams(nc, { replicas: cfg.KAIROS_STREAM_REPLICAS, logger });

  const mongo = new MongoClient(cfg.MONGO_URL, { serverSelectionTimeoutMS: 30_000 });
  await mongo.connect();
  ctx.onDrain(() => mongo.close());
  const db = mongo.db(databaseName(cfg, 'delivery'));
  const ledger = new DeliveryLedger(db, clock);
  const inbox = new InboxStore(db, clock);
  await Promise.all([ledger.init(), inbox.init()]);

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
  ctx.onDrain(async () => {
    await Promise.all([...adapters.values()].map((a) => a.close?.()));
  });

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
  const spec = consumerSpec(STREAMS.ACTIONS.name, DURABLE, filters.allRequested, {
    maxDeliver: cfg.KAIROS_DELIVERY_MAX_DELIVER,
    backoffMs: cfg.KAIROS_DELIVERY_BACKOFF,
    ackWaitMs: cfg.KAIROS_DELIVERY_ACK_WAIT,
    maxAckPending: Math.max(cfg.KAIROS_DELIVERY_MAX_IN_FLIGHT * 4, 256),
  });

  const container = createContainer([
    [TOKENS.Config, cfg],
    [TOKENS.Logger, logger],
    [TOKENS.Nats, nc],
    [TOKENS.Publisher, publisher],
    [TOKENS.Mongo, mongo],
    [TOKENS.Clock, clock],
    [DELIVERY_TOKENS.Adapters, adapters],
    [DELIVERY_TOKENS.Ledger, ledger],
    [DELIVERY_TOKENS.Inbox, inbox],
    [DELIVERY_TOKENS.Outcomes, new OutcomePublisher(publisher, clock)],
    [DELIVERY_TOKENS.Limits, limits],
    [DELIVERY_TOKENS.SelectionOptions, selection],
    [DELIVERY_TOKENS.RetryPolicy, { maxDeliver: spec.maxDeliver }],
    [DELIVERY_TOKENS.Guarantees, cfg.KAIROS_DELIVERY_GUARANTEES],
    [DELIVERY_TOKENS.FaultHook, killAt(cfg.KAIROS_FAULT_POINT, logger)],
    [DELIVERY_TOKENS.TrackingOptions, { secret: cfg.KAIROS_TRACKING_SECRET }],
    [DELIVERY_TOKENS.CallbackSecret, cfg.KAIROS_CALLBACK_SECRET ?? cfg.KAIROS_WEBHOOK_SECRET],
  ]);
  const service = container.resolve(DeliveryService);
  ctx.http.addRoute(container.resolve(DeliveryHttpApi).route);

  const loop = new ConsumeLoop(nc, {
    spec,
    schema: SCHEMAS.ActionRequested,
    mode: { kind: 'concurrent', max: cfg.KAIROS_DELIVERY_MAX_IN_FLIGHT },
    logger,
    publisher,
    handler: async (action, mctx) => {
      await service.deliver(action, { deliveryCount: mctx.deliveryCount });
    },
  });
  await loop.start();
  ctx.onDrain(() => loop.drain());
  logger.info(
    {
      channels: [...adapters.keys()],
      rateLimits: cfg.KAIROS_RATE_LIMITS,
      guarantees: cfg.KAIROS_DELIVERY_GUARANTEES,
      maxInFlight: cfg.KAIROS_DELIVERY_MAX_IN_FLIGHT,
    },
    'delivery consuming actions.requested.>',
  );
}

if (require.main === module) {
  main(() => {
    const cfg = loadDeliveryConfig();
    return {
      name: 'delivery',
      grpcPort: cfg.KAIROS_GRPC_PORT,
      httpPort: cfg.KAIROS_HTTP_PORT,
      drainTimeoutMs: cfg.KAIROS_DRAIN_TIMEOUT,
      start: (ctx) => start(cfg, ctx),
    };
  });
}
