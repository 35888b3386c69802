import { consumerSpec, filters, SCHEMAS, STREAMS, type Schema } from '@kairos/contracts';
import { ConsumeLoop, Publisher } from '@kairos/messaging';
import {
  provide,
  serviceContainer,
  systemClock,
  type DbServiceInfrastructure,
  type HttpServer,
} from '@kairos/service-kit';
import { AnomalyAlerts } from './alerts';
import {
  ALERT_CUSTOMER_ID,
  ALERT_EVENT_TYPE,
  CAMPAIGN_EVENT_TYPE,
  CONFIDENCE,
  CONSUME_BATCH,
  CONSUME_BATCH_WAIT_MS,
  RETENTION_INTERVAL_MS,
  type AnalyticsConfig,
} from './config';
import { AnalyticsState } from './domain/state';
import { analyticsHandlers } from './grpc-service';
import { dashboardRoute } from './http-api';
import { Recorder } from './recorder';
import { ReportService } from './report-service';
import { FactStore } from './store';
import { ANALYTICS_TOKENS } from './tokens';
import { WorkflowCatalog } from './workflows';

export const SERVICE_NAME = 'analytics';

/** What analytics runs on; tests pass their own. */
export interface AnalyticsInfrastructure extends DbServiceInfrastructure {
  /** Where the dashboard is served; none in tests that do not need it. */
  http?: HttpServer;
}

export interface AnalyticsApp {
  state: AnalyticsState;
  store: FactStore;
  reports: ReportService;
  catalog: WorkflowCatalog;
  alerts: AnomalyAlerts;
  handlers: ReturnType<typeof analyticsHandlers>;
  /** Applies retention now (it also runs hourly). */
  retain(): Promise<void>;
  /** Stops the consume loops (the batches in hand are written and acked) and the timers. */
  stop(): Promise<void>;
}

/**
 * Composition: workflow catalog (directory and store), the stored facts folded into the state,
 * one durable consumer per kind of fact, the reports, gRPC handlers, the dashboard, anomaly alerts
 * and retention.
 */
export async function startAnalytics(
  cfg: AnalyticsConfig,
  infra: AnalyticsInfrastructure,
): Promise<AnalyticsApp> {
  const { nc, db, logger } = infra;
  const clock = infra.clock ?? systemClock;
  const store = new FactStore(db);
  await store.init();
  const state = new AnalyticsState();
  const catalog = new WorkflowCatalog(logger);
  catalog.onChange((list) => state.setWorkflows(list));
  await catalog.open(nc, {
    dir: cfg.KAIROS_DEFINITIONS_DIR,
    watch: cfg.KAIROS_DEFINITIONS_WATCH,
    replicas: cfg.KAIROS_STREAM_REPLICAS,
  });
  const loaded = await store.loadInto(state);
  logger.info({ ...loaded, workflows: catalog.infos().map((w) => w.name) }, 'stored facts loaded');

  const publisher = new Publisher(nc, { logger });
  const reports = new ReportService(
    state,
    {
      channelCosts: cfg.KAIROS_CHANNEL_COSTS,
      infraCostPerDay: cfg.KAIROS_INFRA_COST_PER_DAY,
      campaignConversion: {
        event: cfg.KAIROS_CAMPAIGN_CONVERSION_EVENT,
        withinMs: cfg.KAIROS_CAMPAIGN_CONVERSION_WINDOW,
      },
      confidence: CONFIDENCE,
    },
    clock,
  );
  const recorder = new Recorder(store, state, catalog, CAMPAIGN_EVENT_TYPE);
  const alerts = new AnomalyAlerts(state, store, publisher, clock, logger, {
    partitions: cfg.KAIROS_PARTITIONS,
    customerId: ALERT_CUSTOMER_ID,
    eventType: ALERT_EVENT_TYPE,
  });
  const container = serviceContainer(cfg, { logger, nc, clock, publisher, db }, [
    provide(ANALYTICS_TOKENS.State, state),
    provide(ANALYTICS_TOKENS.Store, store),
    provide(ANALYTICS_TOKENS.Catalog, catalog),
    provide(ANALYTICS_TOKENS.Recorder, recorder),
    provide(ANALYTICS_TOKENS.Reports, reports),
    provide(ANALYTICS_TOKENS.Alerts, alerts),
  ]);
  const handlers = analyticsHandlers(container.resolve(ANALYTICS_TOKENS.Reports), logger);
  infra.http?.addRoute(dashboardRoute(reports, () => clock.now()));

  const loop = <T>(
    durable: string,
    stream: string,
    filter: string,
    schema: Schema<T>,
    fn: (list: T[]) => Promise<void>,
  ) =>
    new ConsumeLoop(nc, {
      spec: consumerSpec(stream, durable, filter, { maxAckPending: CONSUME_BATCH * 4 }),
      schema,
      mode: { kind: 'ordered-batch', max: CONSUME_BATCH, maxWaitMs: CONSUME_BATCH_WAIT_MS },
      batch: CONSUME_BATCH,
      logger,
      publisher,
      batchHandler: (items) => fn(items.map((i) => i.message)),
    });
  const loops = [
    loop('analytics-fires', STREAMS.TRIGGERS.name, filters.allFired, SCHEMAS.TriggerFired, (l) =>
      recorder.fires(l),
    ),
    loop('analytics-requests', STREAMS.ACTIONS.name, filters.allRequested, SCHEMAS.ActionRequested, (l) =>
      recorder.requests(l),
    ),
    loop('analytics-outcomes', STREAMS.ACTIONS.name, filters.allOutcomes, SCHEMAS.ActionOutcome, (l) =>
      recorder.outcomes(l),
    ),
    loop('analytics-events', STREAMS.EVENTS.name, filters.allEnriched, SCHEMAS.EnrichedEvent, (l) =>
      recorder.events(l),
    ),
  ];
  for (const l of loops) await l.start();

  const retain = async () => {
    const now = clock.now();
    const cutoff = now - cfg.KAIROS_ANALYTICS_RETENTION;
    const dropped = state.dropBefore(cutoff, now - cfg.KAIROS_ANALYTICS_MINUTE_RETENTION);
    const rolled = await store.removeBefore(cutoff, state);
    if (dropped.messages || rolled.segments) logger.info({ ...dropped, ...rolled }, 'retention applied');
  };
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, what: string, fn: () => Promise<unknown>) => {
    if (ms <= 0) return;
    const t = setInterval(() => {
      fn().catch((err: unknown) => logger.error({ err: (err as Error).message }, `${what} failed`));
    }, ms);
    t.unref();
    timers.push(t);
  };
  every(cfg.KAIROS_ANOMALY_CHECK_INTERVAL, 'anomaly check', () => alerts.check());
  every(RETENTION_INTERVAL_MS, 'retention', retain);
  logger.info({ consumers: loops.length }, 'analytics consuming triggers, actions and enriched events');
  return {
    state,
    store,
    reports,
    catalog,
    alerts,
    handlers,
    retain,
    async stop() {
      for (const t of timers) clearInterval(t);
      await Promise.all(loops.map((l) => l.drain()));
      await catalog.stop();
    },
  };
}
