import { SCHEMAS, type actions, type events } from '@kairos/contracts';
import { ConsumeLoop, ErasureConsumer, Publisher, type Logger as MessagingLogger } from '@kairos/messaging';
import {
  ConfigError,
  ensureIndexes,
  ownedPartitions,
  provide,
  serviceContainer,
  startRetentionSweeper,
  systemClock,
  type DbServiceInfrastructure,
} from '@kairos/service-kit';
import { CommunicationLog } from './communications';
import {
  CONSUMER_TUNING,
  loadSettings,
  profileBudget,
  retentionRules,
  type EnrichmentConfig,
} from './config';
import { Enricher } from './enricher';
import { CustomerEraser } from './erasure';
import { JourneyClassifier } from './domain/journey';
import { ProfileFolder } from './domain/profile-fold';
import { ProfileServiceImpl } from './profile-service';
import { ProfileStore } from './profile-store';
import { ProfileWriteBehind } from './profile-writer';
import { enrichmentProvisioning, OUTCOMES_CONSUMER, rawPartitionConsumer } from './provisioning';
import type { EnrichmentSettings } from './domain/settings';
import { TimeEventScheduler } from './time-events';
import { ENRICHMENT_TOKENS } from './tokens';

/** What enrichment runs on; tests pass their own. */
export interface EnrichmentInfrastructure extends DbServiceInfrastructure {
  /** Rules given directly (tests) instead of the file KAIROS_ENRICHMENT_CONFIG names. */
  settings?: EnrichmentSettings;
}

export interface EnrichmentApp {
  service: ProfileServiceImpl;
  enricher: Enricher;
  scheduler: TimeEventScheduler;
  communications: CommunicationLog;
  store: ProfileStore;
  writer: ProfileWriteBehind;
  ownedPartitions: number[];
  /** Stops the scheduler, the consume loops (in-flight messages finish, are written and acked), the writer. */
  stop(): Promise<void>;
}

/** The service's DI container: every domain class as a singleton over the given infrastructure. */
function enrichmentContainer(
  config: EnrichmentConfig,
  infra: Required<EnrichmentInfrastructure>,
  publisher: Publisher,
  owned: number[],
) {
  const { settings } = infra;
  const container = serviceContainer(config, { ...infra, publisher }, [
    provide(ENRICHMENT_TOKENS.Settings, settings),
    provide(ENRICHMENT_TOKENS.CacheSize, config.KAIROS_PROFILE_CACHE_SIZE),
    provide(ENRICHMENT_TOKENS.CacheBytes, config.KAIROS_PROFILE_CACHE_BYTES),
    provide(ENRICHMENT_TOKENS.Partitions, config.KAIROS_PARTITIONS),
    provide(ENRICHMENT_TOKENS.OwnedPartitions, owned),
    provide(ENRICHMENT_TOKENS.FlushIntervalMs, config.KAIROS_PROFILE_FLUSH_INTERVAL),
    provide(ENRICHMENT_TOKENS.Budget, profileBudget(config)),
  ]);
  container.register(JourneyClassifier, {
    useValue: new JourneyClassifier(settings.journey.rules, settings.journey.defaultStage),
  });
  for (const cls of [
    ProfileStore,
    CommunicationLog,
    TimeEventScheduler,
    ProfileFolder,
    ProfileWriteBehind,
    Enricher,
    CustomerEraser,
    ProfileServiceImpl,
  ]) {
    container.registerSingleton(cls as never);
  }
  return container;
}

/**
 * Wires the service (the composition root's body, shared by main.ts and the in-process tests):
 * DI container, MongoDB indexes, one ordered-batch consume loop per owned partition, the outcome loop and
 * the time-based event scheduler. A time-events interval of 0 leaves the scheduler's timer off
 * (tests call scan()).
 */
export async function startEnrichment(
  config: EnrichmentConfig,
  infrastructure: EnrichmentInfrastructure,
): Promise<EnrichmentApp> {
  const infra: Required<EnrichmentInfrastructure> = {
    ...infrastructure,
    clock: infrastructure.clock ?? systemClock,
    settings: infrastructure.settings ?? loadSettings(config.KAIROS_ENRICHMENT_CONFIG),
  };
  const { nc, logger } = infra;
  const budget = profileBudget(config);
  const maxPayload = nc.info?.max_payload;
  // What an enriched event embeds must fit a message with room to spare (see Enricher.encode).
  if (maxPayload && budget.enrichedTraitsBytes > maxPayload / 2)
    throw new ConfigError([
      `KAIROS_ENRICHED_MAX_TRAITS_BYTES: ${budget.enrichedTraitsBytes} is more than half the NATS server's max_payload (${maxPayload})`,
    ]);
  const owned = ownedPartitions(config);
  const publisher = new Publisher(nc, { logger: logger as MessagingLogger });
  const container = enrichmentContainer(config, infra, publisher, owned);
  const store = container.resolve(ProfileStore);
  const communications = container.resolve(CommunicationLog);
  const scheduler = container.resolve(TimeEventScheduler);
  const enricher = container.resolve(Enricher);
  const writer = container.resolve(ProfileWriteBehind);
  const service = container.resolve(ProfileServiceImpl);
  await ensureIndexes(infra.db, enrichmentProvisioning.indexes, config);

  const loops: Array<ConsumeLoop<unknown>> = [];
  for (const p of owned) {
    const loop = new ConsumeLoop<events.Event>(nc, {
      spec: rawPartitionConsumer(p),
      provision: config.KAIROS_PROVISION,
      schema: SCHEMAS.Event,
      batchHandler: (items) => enricher.handleBatch(items),
      mode: { kind: 'ordered-batch', max: CONSUMER_TUNING.batchSize, maxWaitMs: CONSUMER_TUNING.batchWaitMs },
      logger: logger as MessagingLogger,
      publisher,
    });
    loops.push(loop as ConsumeLoop<unknown>);
  }
  const outcomes = new ConsumeLoop<actions.ActionOutcome>(nc, {
    // Outcomes are not partitioned; replica 0 records them (idempotent, so a takeover is safe).
    spec: OUTCOMES_CONSUMER,
    provision: config.KAIROS_PROVISION,
    schema: SCHEMAS.ActionOutcome,
    // One insert per batch; acks wait for the write-behind's flush while later batches go on.
    batchHandler: (items) => communications.recordOutcomes(items.map((i) => i.message)),
    mode: { kind: 'ordered-batch', max: CONSUMER_TUNING.batchSize, maxWaitMs: CONSUMER_TUNING.batchWaitMs },
    logger: logger as MessagingLogger,
    publisher,
  });
  if (config.KAIROS_REPLICA_ORDINAL === 0) loops.push(outcomes as ConsumeLoop<unknown>);
  // The replica that owns a customer's partition holds its profile in the write-behind and cache.
  const eraser = container.resolve(CustomerEraser);
  const erasure = new ErasureConsumer(nc, {
    provision: config.KAIROS_PROVISION,
    service: 'enrichment',
    partitions: owned,
    erase: (customerId) => eraser.erase(customerId),
    inputs: (p) => [rawPartitionConsumer(p!)],
    publisher,
    logger: logger as MessagingLogger,
  });
  await Promise.all(loops.map((l) => l.start()));
  await erasure.start();
  if (config.KAIROS_TIME_EVENTS_INTERVAL) scheduler.start(config.KAIROS_TIME_EVENTS_INTERVAL);
  const retention = startRetentionSweeper(infra.db, retentionRules(config), {
    intervalMs: config.KAIROS_RETENTION_SWEEP_INTERVAL,
    clock: infra.clock,
    logger,
  });

  return {
    service,
    enricher,
    scheduler,
    communications,
    store,
    writer,
    ownedPartitions: owned,
    async stop() {
      retention.stop();
      await scheduler.stop();
      await erasure.drain();
      // The loops' last acks wait for the writer's flushes, so the writer stops after them.
      await Promise.all(loops.map((l) => l.drain()));
      await writer.stop();
    },
  };
}
