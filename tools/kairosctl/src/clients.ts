import { Metadata, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
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
import { natsAuthOptions, natsServers } from '@kairos/messaging';
import { adminToken, grpcCredentials } from './credentials';
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

/**
 * Connects to NATS (`NATS_URL`, with the credential and TLS files of NATS_USER/NATS_PASSWORD_FILE,
 * NATS_TOKEN_FILE, NATS_NKEY_FILE, NATS_CREDS_FILE, NATS_TLS_*) for one command; exit 3 when it
 * cannot be reached.
 */
export async function withNats<T>(io: Io, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const url = io.env.NATS_URL || DEFAULTS.natsUrl;
  const servers = natsServers(url);
  let nc: NatsConnection;
  try {
    const auth = natsAuthOptions({ ...io.env, NATS_URL: url });
    nc = await connect({ servers, name: 'kairosctl', reconnect: false, timeout: 3_000, ...auth });
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

/**
 * The call's credential: ingest takes an API key (KAIROS_API_KEY); every other service's commands
 * need the admin token (see adminToken).
 */
function metadata(io: Io, credential: ServiceAddress<unknown>['credential']): Metadata {
  const md = new Metadata();
  const token = credential === 'apiKey' ? io.env.KAIROS_API_KEY : adminToken(io);
  if (token) md.set('authorization', `Bearer ${token}`);
  return md;
}

/** Maps a gRPC failure to an exit code: unreachable → 3, anything else → 1 with the server's message. */
function grpcFailure(err: ServiceError, what: string, addr: string, envName: string): Error {
  if (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED) {
    return unreachable(`cannot reach ${what} at ${addr} (set ${envName}): ${err.details || err.message}`);
  }
  return failed(`${what}: ${status[err.code] ?? err.code}: ${err.details || err.message}`);
}

/**
 * A service a command calls: its name in messages, the env var of its address, the default, its
 * client and the credential its calls carry.
 */
interface ServiceAddress<C> {
  what: string;
  envName: string;
  defaultAddr: string;
  client: new (addr: string, creds: ChannelCredentials) => C;
  credential: 'apiKey' | 'admin';
}

const service = <C>(
  what: string,
  envName: string,
  defaultAddr: string,
  client: ServiceAddress<C>['client'],
  credential: ServiceAddress<C>['credential'] = 'admin',
): ServiceAddress<C> => ({ what, envName, defaultAddr, client, credential });

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
  'apiKey',
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
  const client = new service.client(addr, grpcCredentials(io));
  try {
    return await fn(client, metadata(io, service.credential));
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

/** ProfileService.Delete: erases the customer in enrichment and sends the erasure to every service. */
export function eraseCall(io: Io, customerId: string): Promise<profiles.DeleteResponse> {
  return withClient(io, PROFILE_SERVICE, (c, md) =>
    callUnary<profiles.DeleteRequest, profiles.DeleteResponse>(c.delete.bind(c), { customerId }, 30_000, md),
  );
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
