import { SCHEMAS, type ConsumerSpec, type Schema } from '@kairos/contracts';
import { ConsumeLoop, ErasureConsumer, Publisher } from '@kairos/messaging';
import {
  AccessControl,
  AdminSessions,
  ensureIndexes,
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
import { Recorder, type Delivered } from './recorder';
import { ReportService } from './report-service';
import { ANALYTICS_CONSUMERS, analyticsProvisioning } from './provisioning';
import { FactStore } from './store';
import { ANALYTICS_TOKENS } from './tokens';
import { WorkflowCatalog } from './workflows';

export const SERVICE_NAME = 'analytics';

/** What analytics runs on; tests pass their own. */
export interface AnalyticsInfrastructure extends DbServiceInfrastructure {
  /** Where the dashboard is served; none in tests that do not need it. */
  http?: HttpServer;
  /** Who holds the admin credential the dashboard asks for; none: nobody can log in. */
  access?: AccessControl;
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
  await ensureIndexes(db, analyticsProvisioning.indexes, cfg);
  const state = new AnalyticsState();
  const catalog = new WorkflowCatalog(logger);
  catalog.onChange((list) => state.setWorkflows(list));
  await catalog.open(nc, {
    dir: cfg.KAIROS_DEFINITIONS_DIR,
    watch: cfg.KAIROS_DEFINITIONS_WATCH,
    replicas: cfg.KAIROS_STREAM_REPLICAS,
    provision: cfg.KAIROS_PROVISION,
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
  if (infra.http) {
    const sessions = new AdminSessions(infra.access ?? new AccessControl({}), { secure: infra.http.secure });
    infra.http.addRoute(sessions.route);
    infra.http.addRoute(dashboardRoute(reports, () => clock.now()));
  }

  const inputs: ConsumerSpec[] = [];
  const loop = <T>(
    spec: ConsumerSpec,
    schema: Schema<T>,
    fn: (list: Array<Delivered<T>>) => Promise<void>,
  ) => {
    inputs.push(spec);
    return new ConsumeLoop(nc, {
      spec,
      provision: cfg.KAIROS_PROVISION,
      schema,
      mode: { kind: 'ordered-batch', max: CONSUME_BATCH, maxWaitMs: CONSUME_BATCH_WAIT_MS, spans: 'batch' },
      batch: CONSUME_BATCH,
      logger,
      publisher,
      batchHandler: (items) => fn(items),
    });
  };
  const loops = [
    loop(ANALYTICS_CONSUMERS.fires, SCHEMAS.TriggerFired, (l) => recorder.fires(l)),
    loop(ANALYTICS_CONSUMERS.requests, SCHEMAS.ActionRequested, (l) => recorder.requests(l)),
    loop(ANALYTICS_CONSUMERS.outcomes, SCHEMAS.ActionOutcome, (l) => recorder.outcomes(l)),
    loop(ANALYTICS_CONSUMERS.events, SCHEMAS.EnrichedEvent, (l) => recorder.events(l)),
  ];
  for (const l of loops) await l.start();
  const erasure = new ErasureConsumer(nc, {
    provision: cfg.KAIROS_PROVISION,
    service: 'analytics',
    erase: async (customerId) => {
      const stored = await store.eraseCustomer(customerId);
      const dropped = state.dropCustomer(customerId);
      return { fact_segments: stored.segments, facts: stored.facts, ...dropped };
    },
    inputs: () => inputs,
    publisher,
    logger,
  });
  await erasure.start();

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
      await erasure.drain();
      await Promise.all(loops.map((l) => l.drain()));
      await catalog.stop();
    },
  };
}
