import { join } from 'node:path';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { events, ingest, SCHEMAS } from '@kairos/contracts';
import { TELEMETRY_PRELOAD } from '@kairos/telemetry';
import { startIngestInProcess, type InProcessIngest, type RulesFile } from '../../src';
import { freePort, startServiceProcess, useNats, type ServiceProcess } from '@kairos/testkit';

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

/**
 * The ingest process for the enclosing suite, on the suite's NATS server: started (with `env`)
 * before its tests, killed after them and before the server stops. Its fields are set once the
 * before hook ran.
 */
export function useIngestProcess(env: Record<string, string> = {}): {
  nats: { url: string };
  proc: ServiceProcess;
  client: Client;
} {
  const fixture = {} as { nats: { url: string }; proc: ServiceProcess; client: Client };
  // Registered before useNats(), so it runs before the server stops.
  after(async () => {
    fixture.client?.close();
    if (fixture.proc?.running) await fixture.proc.kill();
  });
  fixture.nats = useNats();
  before(async function () {
    this.timeout(40_000);
    Object.assign(fixture, await startIngestProcess(fixture.nats.url, env));
  });
  return fixture;
}

/**
 * The ingest service in-process for the enclosing suite (with `rules`), on the suite's NATS
 * server: started before its tests, stopped after them while NATS is still up. `client` is closed
 * first. Its fields are set once the before hook ran.
 */
export function useIngestInProcess(
  rules: RulesFile,
  client?: () => { close(): void } | undefined,
): { nats: { url: string }; service: InProcessIngest } {
  const fixture = {} as { nats: { url: string }; service: InProcessIngest };
  // Registered before useNats(), so the service drains while NATS is still up.
  after(async () => {
    client?.()?.close();
    await fixture.service?.stop();
  });
  fixture.nats = useNats();
  before(async function () {
    this.timeout(30_000);
    fixture.service = await startIngestInProcess({ NATS_URL: fixture.nats.url }, { rules });
  });
  return fixture;
}

export function auth(key?: string): Metadata {
  const md = new Metadata();
  if (key) md.set('authorization', `Bearer ${key}`);
  return md;
}

type Callback<Res> = (err: ServiceError | null, res: Res) => void;

/** A unary call of `client` as a promise. */
function unary<Req, Res>(
  call: (req: Req, md: Metadata, callback: Callback<Res>) => unknown,
  req: Req,
  md: Metadata,
): Promise<Res> {
  return new Promise((resolve, reject) => call(req, md, (err, res) => (err ? reject(err) : resolve(res))));
}

export function track(
  client: Client,
  event: Partial<events.Event>,
  md = new Metadata(),
): Promise<ingest.TrackResponse> {
  return unary(client.track.bind(client), { event: events.Event.fromPartial(event) }, md);
}

export function trackBatch(
  client: Client,
  batch: Array<Partial<events.Event>>,
  md = new Metadata(),
): Promise<ingest.TrackBatchResponse> {
  return unary(client.trackBatch.bind(client), { events: batch.map((e) => events.Event.fromPartial(e)) }, md);
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

/** A raw event as the EVENTS stream holds it. */
export interface StoredEvent {
  subject: string;
  event: events.Event;
  /** The message's traceparent header ('' when none). */
  traceparent: string;
}

/** Every stored raw event with the given id prefix, read straight from the EVENTS stream. */
export async function storedEvents(natsUrl: string, idPrefix: string): Promise<StoredEvent[]> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('EVENTS');
    const out: StoredEvent[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const msg = await jsm.streams.getMessage('EVENTS', { seq }).catch(() => null);
      if (!msg) continue;
      const event = SCHEMAS.Event.type.decode(msg.data);
      const traceparent = msg.header?.get('traceparent') ?? '';
      if (event.id.startsWith(idPrefix)) out.push({ subject: msg.subject, event, traceparent });
    }
    return out;
  } finally {
    await nc.close();
  }
}
