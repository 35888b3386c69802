/**
 * Composition of the orchestration service: stores, registry, orchestrator, per-partition consume loops
 * and the timer loop. Used by main.ts (the process), the integration tests and tools/bench (in-process).
 */
import { SCHEMAS, type triggers } from '@kairos/contracts';
import { WorkflowRegistry } from '@kairos/definitions';
import { ConsumeLoop, ErasureConsumer, Publisher } from '@kairos/messaging';
import {
  ensureIndexes,
  killAt,
  ownedPartitions,
  startRetentionSweeper,
  provide,
  serviceContainer,
  systemClock,
  type HttpServer,
  type DbServiceInfrastructure,
  loadClientSecurity,
  AccessControl,
  requireBearer,
} from '@kairos/service-kit';
import type { TemplateCatalog } from './domain/content';
import { DirectoryTemplateCatalog } from './templates';
import { runRoutes } from './http';
import { ActionEmitter } from './emitter';
import { Orchestrator, type OrchestratorSettings } from './orchestrator';
import { GrpcProfileGateway, NoProfileGateway, type ProfileGateway } from './profiles';
import { eraseCustomerDocuments, RunStore, SendLedger, TimerStore, WindowStore } from './store';
import { TimerLoop } from './timer-loop';
import { firedPartitionConsumer, orchestrationProvisioning } from './provisioning';
import { GrpcSendTime, noSendTime } from './send-time';
import type { SendTimePort } from './ports';
import { ORCH } from './tokens';
import { retentionRules, type OrchestrationConfig } from './config';

/** What orchestration runs on; tests and the benchmark pass their own. */
export interface OrchestrationInfrastructure extends DbServiceInfrastructure {
  /** Where the run inspection routes (`/runs`) are added. */
  http: Pick<HttpServer, 'addRoute'>;
  /** Who holds the admin credential `/runs` asks for; none: `/runs` refuses everyone. */
  access?: AccessControl;
  /** Overrides the gRPC gateway (tests, benchmarks). */
  profiles?: ProfileGateway;
  /** Overrides the best send hour source (tests); default PredictionService at KAIROS_PREDICTION_ADDR. */
  sendTime?: SendTimePort;
  /** Overrides the template directory (tests, benchmarks). */
  templates?: TemplateCatalog;
}

export interface OrchestrationApp {
  container: ReturnType<typeof serviceContainer>;
  orchestrator: Orchestrator;
  workflows: WorkflowRegistry;
  runs: RunStore;
  timers: TimerStore;
  /** Drain steps in the order they must run. */
  stop(): Promise<void>;
}

export async function startOrchestration(
  config: OrchestrationConfig,
  infra: OrchestrationInfrastructure,
): Promise<OrchestrationApp> {
  const { nc, db, logger } = infra;
  const clock = infra.clock ?? systemClock;
  const runs = new RunStore(db);
  const timers = new TimerStore(db);
  const windows = new WindowStore(db);
  const ledger = new SendLedger(db);
  await ensureIndexes(db, orchestrationProvisioning.indexes, config);

  const workflows = new WorkflowRegistry(logger);
  await workflows.open(nc, {
    dir: config.KAIROS_DEFINITIONS_DIR,
    watch: config.KAIROS_DEFINITIONS_WATCH,
    replicas: config.KAIROS_STREAM_REPLICAS,
    provision: config.KAIROS_PROVISION,
  });

  // Internal lookups carry the service credential (token or mTLS certificate), never the admin's.
  const callerSecurity = loadClientSecurity(config);
  const profiles =
    infra.profiles ??
    (config.KAIROS_PROFILE_ADDR === 'none'
      ? new NoProfileGateway()
      : new GrpcProfileGateway(config.KAIROS_PROFILE_ADDR, config.KAIROS_PROFILE_DEADLINE, callerSecurity));
  const grpcSendTime =
    infra.sendTime || config.KAIROS_PREDICTION_ADDR === 'none'
      ? undefined
      : new GrpcSendTime(config.KAIROS_PREDICTION_ADDR, config.KAIROS_PREDICTION_DEADLINE, callerSecurity);
  const sendTime = infra.sendTime ?? grpcSendTime ?? noSendTime;
  const publisher = new Publisher(nc, { logger });
  const settings: OrchestratorSettings = {
    partitions: config.KAIROS_PARTITIONS,
    settleMs: config.KAIROS_SETTLE_WINDOW,
    fault: killAt(config.KAIROS_FAULT_POINT, logger),
    ...(config.KAIROS_GLOBAL_FREQUENCY_CAP ? { globalCap: config.KAIROS_GLOBAL_FREQUENCY_CAP } : {}),
  };
  const container = serviceContainer(config, { logger, nc, clock, publisher, db }, [
    provide(ORCH.Settings, settings),
    provide(ORCH.Runs, runs),
    provide(ORCH.Timers, timers),
    provide(ORCH.Windows, windows),
    provide(ORCH.Ledger, ledger),
    provide(ORCH.Profiles, profiles),
    provide(ORCH.Workflows, workflows),
    provide(
      ORCH.Templates,
      infra.templates ??
        new DirectoryTemplateCatalog(config.KAIROS_TEMPLATES_DIR, config.KAIROS_TEMPLATES_RECHECK),
    ),
    provide(ORCH.Emitter, new ActionEmitter(publisher)),
    provide(ORCH.SendTime, sendTime),
  ]);
  const orchestrator = container.resolve(Orchestrator);

  const owned = ownedPartitions(config);
  const loops = owned.map(
    (p) =>
      new ConsumeLoop<triggers.TriggerFired>(nc, {
        spec: firedPartitionConsumer(p),
        provision: config.KAIROS_PROVISION,
        schema: SCHEMAS.TriggerFired,
        mode: { kind: 'ordered' },
        handler: (tf) => orchestrator.onTriggerFired(tf),
        logger,
        publisher,
      }),
  );
  await Promise.all(loops.map((l) => l.start()));
  const erasure = new ErasureConsumer(nc, {
    provision: config.KAIROS_PROVISION,
    service: 'orchestration',
    partitions: owned,
    erase: (customerId) =>
      orchestrator.exclusive(customerId, () =>
        eraseCustomerDocuments({ runs, timers, windows, ledger }, customerId),
      ),
    inputs: (p) => [firedPartitionConsumer(p!)],
    publisher,
    logger,
  });
  await erasure.start();
  const timerLoop = new TimerLoop(timers, (t) => orchestrator.onTimer(t), clock, logger, {
    partitions: owned,
    pollMs: config.KAIROS_TIMER_POLL,
    maxIdleMs: config.KAIROS_TIMER_MAX_IDLE,
    leaseMs: config.KAIROS_TIMER_LEASE,
    concurrency: config.KAIROS_TIMER_CONCURRENCY,
    maxAttempts: config.KAIROS_TIMER_MAX_ATTEMPTS,
    abandon: (t, error) => orchestrator.abandonTimer(t, error),
  });
  timerLoop.start();
  const retention = startRetentionSweeper(db, retentionRules(config), {
    intervalMs: config.KAIROS_RETENTION_SWEEP_INTERVAL,
    clock,
    logger,
  });
  infra.http.addRoute(
    requireBearer(infra.access ?? new AccessControl({}), 'admin', '/runs', runRoutes(runs, timers)),
  );
  // Runs a crash left without a driver (possible before the crash invariant held) go on.
  const sweep = orchestrator.recoverStranded(owned).catch((err: Error) => {
    logger.error({ err: err.message }, 'sweep for runs without a driver failed');
    return 0;
  });
  logger.info({ partitions: owned, workflows: workflows.all().map((w) => w.name) }, 'orchestration started');

  return {
    container,
    orchestrator,
    workflows,
    runs,
    timers,
    async stop() {
      await sweep;
      retention.stop();
      await timerLoop.drain();
      await erasure.drain();
      await Promise.all(loops.map((l) => l.drain()));
      await workflows.stop();
      profiles.close();
      grpcSendTime?.close();
    },
  };
}
