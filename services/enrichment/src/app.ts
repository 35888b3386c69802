import type { Db } from 'mongodb';
import {
  consumerSpec,
  filters,
  partitionDurable,
  partitionsOwnedBy,
  SCHEMAS,
  STREAMS,
  type actions,
  type events,
} from '@kairos/contracts';
import {
  ConsumeLoop,
  Publisher,
  type Logger as MessagingLogger,
  type NatsConnection,
} from '@kairos/messaging';
import {
  ConfigError,
  createContainer,
  systemClock,
  TOKENS,
  type Clock,
  type Logger,
} from '@kairos/service-kit';
import { CommunicationLog } from './communications';
import { loadEnrichmentConfig, profileBudget } from './config';
import { Enricher } from './enricher';
import { JourneyClassifier } from './journey';
import type { ProfileBudget } from './profile-budget';
import { ProfileFolder } from './profile-fold';
import { ProfileServiceImpl } from './profile-service';
import { ProfileStore } from './profile-store';
import { ProfileWriteBehind } from './profile-writer';
import type { EnrichmentSettings } from './settings';
import { TimeEventScheduler } from './time-events';
import { ENRICHMENT_TOKENS } from './tokens';

export interface EnrichmentOptions {
  nc: NatsConnection;
  db: Db;
  logger: Logger;
  settings: EnrichmentSettings;
  partitions: number;
  replicaOrdinal?: number;
  replicas?: number;
  cacheSize?: number;
  /** Bound of the profile cache in BSON bytes; default 256 MiB. */
  cacheBytes?: number;
  clock?: Clock;
  /** Events per partition batch (one profile write per touched customer per batch). */
  batchSize?: number;
  /** How long a partition's batch waits for more delivered events (ms). */
  batchWaitMs?: number;
  /** How long a changed profile waits for more changes before it is written (ms); default 100. */
  profileFlushIntervalMs?: number;
  /** Scan interval of the time-based event scheduler (ms); 0 disables the timer (tests call scan()). */
  timeEventsIntervalMs?: number;
  /** The profile size budget; default: config.ts's defaults. */
  profileBudget?: ProfileBudget;
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
export function enrichmentContainer(deps: {
  logger: Logger;
  nc: NatsConnection;
  publisher: Publisher;
  clock: Clock;
  db: Db;
  settings: EnrichmentSettings;
  partitions: number;
  owned: number[];
  cacheSize?: number;
  /** Bound of the profile cache in BSON bytes; default 256 MiB. */
  cacheBytes?: number;
  profileFlushIntervalMs?: number;
  profileBudget?: ProfileBudget;
}) {
  const container = createContainer([
    [TOKENS.Logger, deps.logger],
    [TOKENS.Nats, deps.nc],
    [TOKENS.Publisher, deps.publisher],
    [TOKENS.Clock, deps.clock],
    [ENRICHMENT_TOKENS.Db, deps.db],
    [ENRICHMENT_TOKENS.Settings, deps.settings],
    [ENRICHMENT_TOKENS.CacheSize, deps.cacheSize ?? 50_000],
    [ENRICHMENT_TOKENS.CacheBytes, deps.cacheBytes ?? 256 * 1024 ** 2],
    [ENRICHMENT_TOKENS.Partitions, deps.partitions],
    [ENRICHMENT_TOKENS.OwnedPartitions, deps.owned],
    [ENRICHMENT_TOKENS.FlushIntervalMs, deps.profileFlushIntervalMs ?? 100],
    [ENRICHMENT_TOKENS.Budget, deps.profileBudget ?? profileBudget(loadEnrichmentConfig({}))],
  ]);
  container.register(JourneyClassifier, {
    useValue: new JourneyClassifier(deps.settings.journey.rules, deps.settings.journey.defaultStage),
  });
  for (const cls of [
    ProfileStore,
    CommunicationLog,
    TimeEventScheduler,
    ProfileFolder,
    ProfileWriteBehind,
    Enricher,
    ProfileServiceImpl,
  ]) {
    container.registerSingleton(cls as never);
  }
  return container;
}

/**
 * Wires the service (the composition root's body, shared by main.ts and the in-process tests):
 * DI container, MongoDB indexes, one ordered-batch consume loop per owned partition, the outcome loop and
 * the time-based event scheduler.
 */
export async function startEnrichment(opts: EnrichmentOptions): Promise<EnrichmentApp> {
  const budget = opts.profileBudget ?? profileBudget(loadEnrichmentConfig({}));
  const maxPayload = opts.nc.info?.max_payload;
  // What an enriched event embeds must fit a message with room to spare (see Enricher.encode).
  if (maxPayload && budget.enrichedTraitsBytes > maxPayload / 2)
    throw new ConfigError([
      `KAIROS_ENRICHED_MAX_TRAITS_BYTES: ${budget.enrichedTraitsBytes} is more than half the NATS server's max_payload (${maxPayload})`,
    ]);
  const owned = partitionsOwnedBy(opts.replicaOrdinal ?? 0, opts.replicas ?? 1, opts.partitions);
  const publisher = new Publisher(opts.nc, { logger: opts.logger as MessagingLogger });
  const container = enrichmentContainer({
    ...opts,
    profileBudget: budget,
    publisher,
    owned,
    clock: opts.clock ?? systemClock,
  });
  const store = container.resolve(ProfileStore);
  const communications = container.resolve(CommunicationLog);
  const scheduler = container.resolve(TimeEventScheduler);
  const enricher = container.resolve(Enricher);
  const writer = container.resolve(ProfileWriteBehind);
  const service = container.resolve(ProfileServiceImpl);
  await communications.init();
  await scheduler.init();

  const loops: Array<ConsumeLoop<unknown>> = [];
  for (const p of owned) {
    const loop = new ConsumeLoop<events.Event>(opts.nc, {
      // Events wait unacked for the profile write-behind: room for a few seconds of writes behind.
      spec: consumerSpec(STREAMS.EVENTS.name, partitionDurable('enrichment', p), filters.rawPartition(p), {
        maxAckPending: 2_000,
      }),
      schema: SCHEMAS.Event,
      batchHandler: (items) => enricher.handleBatch(items),
      mode: { kind: 'ordered-batch', max: opts.batchSize ?? 128, maxWaitMs: opts.batchWaitMs ?? 2 },
      logger: opts.logger as MessagingLogger,
      publisher,
    });
    loops.push(loop as ConsumeLoop<unknown>);
  }
  const outcomes = new ConsumeLoop<actions.ActionOutcome>(opts.nc, {
    // Outcomes are not partitioned; replica 0 records them (idempotent, so a takeover is safe).
    spec: consumerSpec(STREAMS.ACTIONS.name, 'enrichment-outcomes', filters.allOutcomes),
    schema: SCHEMAS.ActionOutcome,
    // One insert per batch; acks wait for the write-behind's flush while later batches go on.
    batchHandler: (items) => communications.recordOutcomes(items.map((i) => i.message)),
    mode: { kind: 'ordered-batch', max: 128, maxWaitMs: 2 },
    logger: opts.logger as MessagingLogger,
    publisher,
  });
  if ((opts.replicaOrdinal ?? 0) === 0) loops.push(outcomes as ConsumeLoop<unknown>);
  await Promise.all(loops.map((l) => l.start()));
  if (opts.timeEventsIntervalMs) scheduler.start(opts.timeEventsIntervalMs);

  return {
    service,
    enricher,
    scheduler,
    communications,
    store,
    writer,
    ownedPartitions: owned,
    async stop() {
      await scheduler.stop();
      // The loops' last acks wait for the writer's flushes, so the writer stops after them.
      await Promise.all(loops.map((l) => l.drain()));
      await writer.stop();
    },
  };
}
