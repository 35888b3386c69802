import { join } from 'node:path';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { events, ingest, SCHEMAS } from '@kairos/contracts';
import { TELEMETRY_PRELOAD } from '@kairos/telemetry';
import { freePort, startServiceProcess, type ServiceProcess } from '@kairos/testkit';

export type Client = InstanceType<typeof ingest.IngestServiceClient>;

export function newClient(address: string): Client {
  return new ingest.IngestServiceClient(address, credentials.createInsecure());
}

/** The ingest service as a process (dist/src/main.js, telemetry preloaded), ready, with a client. */
export async function startIngestProcess(
  natsUrl: string,
  env: Record<string, string> = {},
): Promise<{ proc: ServiceProcess; client: Client }> {
  const grpcPort = await freePort();
  const proc = await startServiceProcess({
    name: 'ingest',
    script: join(__dirname, '../../../dist/src/main.js'),
    requireTelemetry: TELEMETRY_PRELOAD,
    env: { NATS_URL: natsUrl, KAIROS_GRPC_PORT: String(grpcPort), KAIROS_HTTP_PORT: '0', ...env },
    readiness: { grpcPort, service: 'kairos.ingest.v1.IngestService' },
  });
  return { proc, client: newClient(`127.0.0.1:${grpcPort}`) };
}

export function auth(key?: string): Metadata {
  const md = new Metadata();
  if (key) md.set('authorization', `Bearer ${key}`);
  return md;
}

export function track(
  client: Client,
  event: Partial<events.Event>,
  md = new Metadata(),
): Promise<ingest.TrackResponse> {
  return new Promise((resolve, reject) =>
    client.track({ event: events.Event.fromPartial(event) }, md, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

export function trackBatch(
  client: Client,
  batch: Array<Partial<events.Event>>,
  md = new Metadata(),
): Promise<ingest.TrackBatchResponse> {
  return new Promise((resolve, reject) =>
    client.trackBatch({ events: batch.map((e) => events.Event.fromPartial(e)) }, md, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

export function stream(
  client: Client,
  batch: Array<Partial<events.Event>>,
  md = new Metadata(),
): Promise<ingest.StreamResponse> {
  return new Promise((resolve, reject) => {
    const call = client.stream(md, (err, res) => (err ? reject(err) : resolve(res!)));
    for (const e of batch) call.write({ event: events.Event.fromPartial(e) });
    call.end();
  });
}

/** Awaits a call expected to fail; returns its error. */
export async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** Every stored raw event with the given id prefix, read straight from the EVENTS stream. */
export async function storedEvents(
  natsUrl: string,
  idPrefix: string,
): Promise<Array<{ subject: string; event: events.Event }>> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('EVENTS');
    const out: Array<{ subject: string; event: events.Event }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const msg = await jsm.streams.getMessage('EVENTS', { seq }).catch(() => null);
      if (!msg) continue;
      const event = SCHEMAS.Event.type.decode(msg.data);
      if (event.id.startsWith(idPrefix)) out.push({ subject: msg.subject, event });
    }
    return out;
  } finally {
    await nc.close();
  }
}
