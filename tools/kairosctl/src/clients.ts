import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { analytics, ingest, profiles, triggers } from '@kairos/contracts';
import { openNatsDefinitionStore, type DefinitionStore } from '@kairos/definitions';
import { natsServers } from '@kairos/messaging';
import { failed, unreachable } from './errors';
import type { Io } from './io';

export const DEFAULTS = {
  natsUrl: 'nats://127.0.0.1:4222',
  ingestAddr: '127.0.0.1:50051',
  patternAddr: '127.0.0.1:50053',
  profileAddr: '127.0.0.1:50052',
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

type Unary<Req, Res> = (
  req: Req,
  md: Metadata,
  opts: { deadline: number },
  cb: (err: ServiceError | null, res: Res) => void,
) => unknown;

function callUnary<Req, Res>(
  method: Unary<Req, Res>,
  req: Req,
  md: Metadata,
  timeoutMs: number,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    method(req, md, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

export async function patternCall<Res>(
  io: Io,
  fn: (client: triggers.PatternServiceClient, md: Metadata) => Promise<Res>,
): Promise<Res> {
  const addr = io.env.KAIROS_PATTERN_ADDR || DEFAULTS.patternAddr;
  const client = new triggers.PatternServiceClient(addr, credentials.createInsecure());
  try {
    return await fn(client, metadata(io));
  } catch (err) {
    if ((err as ServiceError).code !== undefined) {
      throw grpcFailure(err as ServiceError, 'pattern-detection', addr, 'KAIROS_PATTERN_ADDR');
    }
    throw err;
  } finally {
    client.close();
  }
}

export function simulateCall(io: Io, req: triggers.SimulateRequest): Promise<triggers.SimulateResponse> {
  return patternCall(io, (c, md) =>
    callUnary<triggers.SimulateRequest, triggers.SimulateResponse>(c.simulate.bind(c), req, md, 120_000),
  );
}

export function explainCall(io: Io, req: triggers.ExplainRequest): Promise<triggers.ExplainResponse> {
  return patternCall(io, (c, md) =>
    callUnary<triggers.ExplainRequest, triggers.ExplainResponse>(c.explain.bind(c), req, md, 10_000),
  );
}

export async function trackCall(io: Io, req: ingest.TrackRequest): Promise<ingest.TrackResponse> {
  const addr = io.env.KAIROS_INGEST_ADDR || DEFAULTS.ingestAddr;
  const client = new ingest.IngestServiceClient(addr, credentials.createInsecure());
  try {
    return await callUnary<ingest.TrackRequest, ingest.TrackResponse>(
      client.track.bind(client),
      req,
      metadata(io),
      10_000,
    );
  } catch (err) {
    if ((err as ServiceError).code !== undefined) {
      throw grpcFailure(err as ServiceError, 'ingest', addr, 'KAIROS_INGEST_ADDR');
    }
    throw err;
  } finally {
    client.close();
  }
}

export async function profileCall(io: Io, customerId: string): Promise<profiles.GetResponse> {
  const addr = io.env.KAIROS_PROFILE_ADDR || DEFAULTS.profileAddr;
  const client = new profiles.ProfileServiceClient(addr, credentials.createInsecure());
  try {
    return await callUnary<profiles.GetRequest, profiles.GetResponse>(
      client.get.bind(client),
      { customerId },
      metadata(io),
      10_000,
    );
  } catch (err) {
    if ((err as ServiceError).code !== undefined) {
      throw grpcFailure(err as ServiceError, 'enrichment (ProfileService)', addr, 'KAIROS_PROFILE_ADDR');
    }
    throw err;
  } finally {
    client.close();
  }
}

/** One AnalyticsService call (`KAIROS_ANALYTICS_ADDR`); exit 3 when unreachable, 1 with the server's message. */
export async function analyticsCall<Req, Res>(
  io: Io,
  rpc: keyof analytics.AnalyticsServiceClient & string,
  req: Req,
  timeoutMs = 30_000,
): Promise<Res> {
  const addr = io.env.KAIROS_ANALYTICS_ADDR || DEFAULTS.analyticsAddr;
  const client = new analytics.AnalyticsServiceClient(addr, credentials.createInsecure());
  try {
    const method = (client[rpc] as unknown as Unary<Req, Res>).bind(client);
    return await callUnary<Req, Res>(method, req, metadata(io), timeoutMs);
  } catch (err) {
    if ((err as ServiceError).code !== undefined) {
      throw grpcFailure(err as ServiceError, 'analytics', addr, 'KAIROS_ANALYTICS_ADDR');
    }
    throw err;
  } finally {
    client.close();
  }
}
