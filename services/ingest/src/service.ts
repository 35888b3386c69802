import { decodeStreamRequest, decodeTrackBatchRequest, decodeTrackRequest, ingest } from '@kairos/contracts';
import { connectNats, provisionStreams, Publisher } from '@kairos/messaging';
import { createContainer, systemClock, TOKENS, type Clock, type ServiceContext } from '@kairos/service-kit';
import { counter } from '@kairos/telemetry';
import { Authenticator } from './auth';
import { Classifier } from './classification';
import type { IngestConfig } from './config';
import { IngestGrpcService } from './grpc-service';
import { Ingestor, type IngestSettings } from './ingestor';
import { Prioritizer } from './prioritization';
import { EMPTY_RULES, loadRulesFile, type RulesFile } from './rules-file';
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

export interface StartIngestOptions {
  /** Rules given directly (tests, bench) instead of KAIROS_INGEST_CONFIG. */
  rules?: RulesFile;
  clock?: Clock;
}

/**
 * Composition: NATS + streams, the container with the domain modules, the gRPC service, the webhook
 * route and the drain steps (stop taking calls and finish them, then drain NATS).
 */
export async function startIngest(
  ctx: ServiceContext,
  cfg: IngestConfig,
  opts: StartIngestOptions = {},
): Promise<void> {
  const { logger } = ctx;
  const clock = opts.clock ?? systemClock;
  const rules =
    opts.rules ?? (cfg.KAIROS_INGEST_CONFIG ? loadRulesFile(cfg.KAIROS_INGEST_CONFIG) : EMPTY_RULES);
  const authenticator = new Authenticator(rules, clock.now());
  if (!authenticator.enabled) {
    logger.warn(
      'no API keys configured (KAIROS_INGEST_CONFIG): authentication is OFF; every caller is accepted',
    );
  }

  const nc = await connectNats({ servers: cfg.NATS_URL.split(','), name: ctx.name, logger });
  ctx.onDrain(() => nc.drain());
  await provisionStreams(nc, { replicas: cfg.KAIROS_STREAM_REPLICAS, logger });

  const settings: IngestSettings = {
    partitions: cfg.KAIROS_PARTITIONS,
    maxBatch: cfg.KAIROS_INGEST_MAX_BATCH,
    maxPropertiesBytes: cfg.KAIROS_INGEST_MAX_PROPERTIES_BYTES,
    maxDepth: cfg.KAIROS_INGEST_MAX_DEPTH,
    maxFutureMs: cfg.KAIROS_INGEST_MAX_FUTURE,
    maxPastMs: cfg.KAIROS_INGEST_MAX_PAST,
    streamWindow: cfg.KAIROS_INGEST_STREAM_WINDOW,
  };
  const container = createContainer([
    [TOKENS.Config, cfg],
    [TOKENS.Logger, logger],
    [TOKENS.Nats, nc],
    [TOKENS.Clock, clock],
    [TOKENS.Publisher, new Publisher(nc, { logger })],
    [INGEST_TOKENS.Settings, settings],
    [INGEST_TOKENS.Classifier, new Classifier(rules)],
    [INGEST_TOKENS.Prioritizer, new Prioritizer(rules.prioritization, prioritizationCounter)],
    [INGEST_TOKENS.Authenticator, authenticator],
  ]);
  container.registerSingleton(INGEST_TOKENS.Ingestor, Ingestor);
  const ingestor = container.resolve<Ingestor>(INGEST_TOKENS.Ingestor);
  const service = container.resolve(IngestGrpcService);

  ctx.grpc.addService(INGEST_SERVICE_DEFINITION, service.implementation, INGEST_SERVICE_NAME);
  const webhooks = new WebhookReceiver(rules.webhooks, ingestor, logger);
  ctx.http.addRoute(webhooks.route);
  ctx.onDrain(() => service.drain());
  logger.info(
    {
      apiKeys: rules.apiKeys.length,
      prioritizationRules: rules.prioritization.length,
      webhookSources: Object.keys(rules.webhooks),
    },
    'ingest configured',
  );
}
