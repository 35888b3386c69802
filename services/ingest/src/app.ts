import { decodeStreamRequest, decodeTrackBatchRequest, decodeTrackRequest, ingest } from '@kairos/contracts';
import { Publisher } from '@kairos/messaging';
import {
  provide,
  resolveToken,
  serviceContainer,
  systemClock,
  type GrpcServer,
  type HttpServer,
  type ServiceInfrastructure,
} from '@kairos/service-kit';
import { counter } from '@kairos/telemetry';
import { Authenticator } from './domain/auth';
import { Classifier } from './domain/classification';
import { loadRulesFile, type IngestConfig } from './config';
import { IngestGrpcService } from './grpc-service';
import { Ingestor, type IngestSettings } from './ingestor';
import { Prioritizer } from './domain/prioritization';
import type { RulesFile } from './domain/rules-file';
import { INGEST_TOKENS } from './tokens';
import { WebhookReceiver } from './webhooks';

export const INGEST_SERVICE_NAME = 'kairos.ingest.v1.IngestService';

const prioritizationCounter = counter(
  'kairos_ingest_prioritization_total',
  'Events decided by prioritization rules, by rule and decision (passed, dropped, sampled_in, sampled_out)',
  ['rule', 'decision'],
);

/**
 * IngestService with request decoders that keep each event's properties as the received bytes:
 * validation measures them on the wire and the publish writes them back unchanged.
 */
const INGEST_SERVICE_DEFINITION = {
  ...ingest.IngestServiceService,
  track: { ...ingest.IngestServiceService.track, requestDeserialize: decodeTrackRequest },
  trackBatch: { ...ingest.IngestServiceService.trackBatch, requestDeserialize: decodeTrackBatchRequest },
  stream: { ...ingest.IngestServiceService.stream, requestDeserialize: decodeStreamRequest },
};

/** What ingest runs on; tests pass their own. */
export interface IngestInfrastructure extends ServiceInfrastructure {
  grpc: GrpcServer;
  http: HttpServer;
  /** Rules given directly (tests, bench) instead of the file KAIROS_INGEST_CONFIG names. */
  rules?: RulesFile;
}

export interface IngestApp {
  /** Stops taking calls and waits for the ones in flight. */
  stop(): Promise<void>;
}

/**
 * Composition: the container with the domain modules, the gRPC service and the webhook route on
 * the given infrastructure.
 */
export async function startIngest(cfg: IngestConfig, infra: IngestInfrastructure): Promise<IngestApp> {
  const { logger, nc } = infra;
  const clock = infra.clock ?? systemClock;
  const rules = infra.rules ?? loadRulesFile(cfg.KAIROS_INGEST_CONFIG);
  const authenticator = new Authenticator(rules, clock.now());
  if (!authenticator.enabled) {
    logger.warn(
      'no API keys configured (KAIROS_INGEST_CONFIG): authentication is OFF; every caller is accepted',
    );
  }

  const settings: IngestSettings = {
    partitions: cfg.KAIROS_PARTITIONS,
    maxBatch: cfg.KAIROS_INGEST_MAX_BATCH,
    maxPropertiesBytes: cfg.KAIROS_INGEST_MAX_PROPERTIES_BYTES,
    maxDepth: cfg.KAIROS_INGEST_MAX_DEPTH,
    maxFutureMs: cfg.KAIROS_INGEST_MAX_FUTURE,
    maxPastMs: cfg.KAIROS_INGEST_MAX_PAST,
    streamWindow: cfg.KAIROS_INGEST_STREAM_WINDOW,
    streamMaxDurationMs: cfg.KAIROS_INGEST_STREAM_MAX_DURATION,
  };
  const container = serviceContainer(cfg, { logger, nc, clock, publisher: new Publisher(nc, { logger }) }, [
    provide(INGEST_TOKENS.Settings, settings),
    provide(INGEST_TOKENS.Classifier, new Classifier(rules)),
    provide(INGEST_TOKENS.Prioritizer, new Prioritizer(rules.prioritization, prioritizationCounter)),
    provide(INGEST_TOKENS.Authenticator, authenticator),
  ]);
  container.registerSingleton(INGEST_TOKENS.Ingestor, Ingestor);
  const ingestor = resolveToken(container, INGEST_TOKENS.Ingestor);
  const service = container.resolve(IngestGrpcService);

  // Ingest authenticates its callers itself, by API key (domain/auth.ts).
  infra.grpc.addService(INGEST_SERVICE_DEFINITION, service.implementation, INGEST_SERVICE_NAME, {
    track: 'public',
    trackBatch: 'public',
    stream: 'public',
  });
  const webhooks = new WebhookReceiver(rules.webhooks, ingestor, logger);
  infra.http.addRoute(webhooks.route);
  logger.info(
    {
      apiKeys: rules.apiKeys.length,
      prioritizationRules: rules.prioritization.length,
      webhookSources: Object.keys(rules.webhooks),
    },
    'ingest configured',
  );
  return { stop: () => service.drain() };
}
