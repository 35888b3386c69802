import { credentials, Metadata, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  analytics,
  callUnary,
  ingest,
  predictions,
  profiles,
  triggers,
  type UnaryMethod,
} from '@kairos/contracts';
import { openNatsDefinitionStore, type DefinitionStore } from '@kairos/definitions';
import { natsServers } from '@kairos/messaging';
import { failed, unreachable } from './errors';
import type { Io } from './io';

export const DEFAULTS = {
  natsUrl: 'nats://127.0.0.1:4222',
  ingestAddr: '127.0.0.1:50051',
  patternAddr: '127.0.0.1:50053',
  profileAddr: '127.0.0.1:50052',
  predictionAddr: '127.0.0.1:50057',
  analyticsAddr: '127.0.0.1:50056',
};

/** Connects to NATS (`NATS_URL`) for one command; exit 3 when it cannot be reached. */
export async function withNats<T>(io: Io, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const servers = natsServers(io.env.NATS_URL || DEFAULTS.natsUrl);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers, name: 'kairosctl', reconnect: false, timeout: 3_000 });
  } catch (err) {
    throw unreachable(`cannot reach NATS at ${servers.join(',')} (set NATS_URL): ${(err as Error).message}`);
  }
  try {
    return await fn(nc);
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/** Opens the definition store on NATS; exit 3 when NATS cannot be reached. */
export function withStore<T>(io: Io, fn: (store: DefinitionStore) => Promise<T>): Promise<T> {
  return withNats(io, async (nc) => fn(await openNatsDefinitionStore(nc)));
}

function metadata(io: Io): Metadata {
  const md = new Metadata();
  if (io.env.KAIROS_API_KEY) md.set('authorization', `Bearer ${io.env.KAIROS_API_KEY}`);
  return md;
}

/** Maps a gRPC failure to an exit code: unreachable → 3, anything else → 1 with the server's message. */
function grpcFailure(err: ServiceError, what: string, addr: string, envName: string): Error {
  if (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED) {
    return unreachable(`cannot reach ${what} at ${addr} (set ${envName}): ${err.details || err.message}`);
  }
  return failed(`${what}: ${status[err.code] ?? err.code}: ${err.details || err.message}`);
}

/** A service a command calls: its name in messages, the env var of its address, the default, its client. */
interface ServiceAddress<C> {
  what: string;
  envName: string;
  defaultAddr: string;
  client: new (addr: string, creds: ChannelCredentials) => C;
}

const service = <C>(
  what: string,
  envName: string,
  defaultAddr: string,
  client: ServiceAddress<C>['client'],
): ServiceAddress<C> => ({ what, envName, defaultAddr, client });

const PATTERN_SERVICE = service(
  'pattern-detection',
  'KAIROS_PATTERN_ADDR',
  DEFAULTS.patternAddr,
  triggers.PatternServiceClient,
);
const INGEST_SERVICE = service(
  'ingest',
  'KAIROS_INGEST_ADDR',
  DEFAULTS.ingestAddr,
  ingest.IngestServiceClient,
);
const PROFILE_SERVICE = service(
  'enrichment (ProfileService)',
  'KAIROS_PROFILE_ADDR',
  DEFAULTS.profileAddr,
  profiles.ProfileServiceClient,
);
const ANALYTICS_SERVICE = service(
  'analytics',
  'KAIROS_ANALYTICS_ADDR',
  DEFAULTS.analyticsAddr,
  analytics.AnalyticsServiceClient,
);
const PREDICTION_SERVICE = service(
  'prediction',
  'KAIROS_PREDICTION_ADDR',
  DEFAULTS.predictionAddr,
  predictions.PredictionServiceClient,
);

/**
 * Runs `fn` with a client of `service` at its address (`envName`, else the default), closed
 * afterwards; a gRPC failure becomes an exit code (see grpcFailure).
 */
async function withClient<C extends { close(): void }, Res>(
  io: Io,
  service: ServiceAddress<C>,
  fn: (client: C, md: Metadata) => Promise<Res>,
): Promise<Res> {
  const addr = io.env[service.envName] || service.defaultAddr;
  const client = new service.client(addr, credentials.createInsecure());
  try {
    return await fn(client, metadata(io));
  } catch (err) {
    if ((err as ServiceError).code !== undefined) {
      throw grpcFailure(err as ServiceError, service.what, addr, service.envName);
    }
    throw err;
  } finally {
    client.close();
  }
}

/**
 * One unary call: `rpc` picks the method of a client of `service`; exit 3 when the service is
 * unreachable, 1 with the server's message (see withClient). The deadline is `timeoutMs` from now.
 */
function unaryCall<C extends { close(): void }, Req, Res>(
  io: Io,
  service: ServiceAddress<C>,
  rpc: (client: C) => UnaryMethod<Req, Res>,
  req: Req,
  timeoutMs = 10_000,
): Promise<Res> {
  return withClient(io, service, (c, md) => callUnary(rpc(c).bind(c), req, timeoutMs, md));
}

export function simulateCall(io: Io, req: triggers.SimulateRequest): Promise<triggers.SimulateResponse> {
  return unaryCall(io, PATTERN_SERVICE, (c) => c.simulate, req, 120_000);
}

export function explainCall(io: Io, req: triggers.ExplainRequest): Promise<triggers.ExplainResponse> {
  return unaryCall(io, PATTERN_SERVICE, (c) => c.explain, req);
}

export function trackCall(io: Io, req: ingest.TrackRequest): Promise<ingest.TrackResponse> {
  return unaryCall(io, INGEST_SERVICE, (c) => c.track, req);
}

export function profileCall(io: Io, customerId: string): Promise<profiles.GetResponse> {
  return unaryCall(io, PROFILE_SERVICE, (c) => c.get, { customerId });
}

export function scoreCall(io: Io, customerId: string): Promise<predictions.ScoreResponse> {
  return unaryCall(io, PREDICTION_SERVICE, (c) => c.score, { customerId });
}

export function modelReportCall(io: Io, model: string): Promise<predictions.ModelReportResponse> {
  return unaryCall(io, PREDICTION_SERVICE, (c) => c.modelReport, { model });
}

/** One AnalyticsService call (`KAIROS_ANALYTICS_ADDR`); exit 3 when unreachable, 1 with the server's message. */
export function analyticsCall<Req, Res>(
  io: Io,
  rpc: keyof analytics.AnalyticsServiceClient & string,
  req: Req,
  timeoutMs = 30_000,
): Promise<Res> {
  return unaryCall(io, ANALYTICS_SERVICE, (c) => c[rpc] as unknown as UnaryMethod<Req, Res>, req, timeoutMs);
}
