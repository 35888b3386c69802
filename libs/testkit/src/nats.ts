import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { StartedTestContainer } from 'testcontainers';
import { findBinary, missingBinaryError } from './binaries';
import { containerRuntimeAvailable } from './container-runtime';
import { logOnce } from './log';
import { freePort } from './ports';
import { ManagedProcess } from './process';
import { makeTempDir, removeTempDir } from './tempdir';
import { waitForServer } from './wait';

export type InfraSource = 'env' | 'container' | 'binary';

export interface StartNatsOptions {
  /** Host port to listen on; a free one by default. */
  port?: number;
  /** Extra nats-server arguments (binary path) / command arguments (container path). */
  args?: string[];
  /** Deadline for the server to accept connections and answer JetStream requests. Default 20 000 ms. */
  startupTimeoutMs?: number;
  /** Container image for the testcontainers path. Default `KAIROS_NATS_IMAGE` or `nats:2.15-alpine`. */
  image?: string;
  /** Ignore `NATS_URL` (for tests that must own the server, e.g. to restart it). */
  ignoreEnv?: boolean;
  /**
   * A nats-server configuration file's text (authorization, TLS), loaded with `-c`. Implies
   * `ignoreEnv`, and the local binary: a configuration may name files on this machine.
   */
  config?: string;
  /** How the readiness check connects to a configured server (a user, TLS files). */
  client?: Partial<Pick<NodeConnectionOptions, 'user' | 'pass' | 'tls'>>;
}

export interface NatsServer {
  /** The server's URL, `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly source: InfraSource;
  /** JetStream store directory (binary path only). */
  readonly storeDir: string | undefined;
  /** Whether the server is currently up (as far as the testkit knows). */
  readonly running: boolean;
  /** Gracefully stops the server; JetStream data is kept so `start()`/`restart()` recover it. */
  stop(): Promise<void>;
  /** SIGKILLs the server (no graceful shutdown); data on disk is kept. */
  kill(): Promise<void>;
  /** Starts a stopped/killed server again on the same port and store dir, waiting until it is ready. */
  start(): Promise<void>;
  /** `stop()` (when running) then `start()`. */
  restart(): Promise<void>;
  /** Stops the server and removes its store dir / container. The handle is unusable afterwards. */
  dispose(): Promise<void>;
  /** Server output lines (binary path). */
  logs(): string[];
}

function unsupported(what: string): () => Promise<void> {
  return () =>
    Promise.reject(new Error(`testkit: ${what}() is not supported for an external NATS_URL server`));
}

/** Waits until a NATS server at `url` accepts a connection and answers a JetStream API request. */
export function waitForNats(
  url: string,
  timeoutMs: number,
  isAlive?: () => string | undefined,
  client: StartNatsOptions['client'] = {},
): Promise<void> {
  const message = `NATS with JetStream at ${url}`;
  return waitForServer(() => pingJetStream(url, client), { timeoutMs, intervalMs: 50, message, isAlive });
}

/** Resolves when a NATS server at `url` accepts a connection and answers a JetStream API request. */
async function pingJetStream(url: string, client: StartNatsOptions['client']): Promise<void> {
  const nc = await connect({
    servers: url,
    timeout: 1000,
    reconnect: false,
    maxReconnectAttempts: 0,
    ...client,
  });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 1000 });
    await jsm.getAccountInfo();
  } finally {
    await nc.close();
  }
}

class BinaryNats implements NatsServer {
  readonly source = 'binary' as const;
  readonly host = '127.0.0.1';
  private proc: ManagedProcess | undefined;
  private readonly history: string[] = [];

  constructor(
    private readonly binary: string,
    readonly port: number,
    readonly storeDir: string,
    private readonly extraArgs: string[],
    private readonly startupTimeoutMs: number,
    private readonly client: StartNatsOptions['client'] = {},
  ) {}

  get url(): string {
    return `nats://${this.host}:${this.port}`;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (this.proc) this.history.push(...this.proc.logs());
    const proc = new ManagedProcess({
      name: 'nats-server',
      command: this.binary,
      args: ['-a', this.host, '-p', String(this.port), '-js', '-sd', this.storeDir, ...this.extraArgs],
    });
    this.proc = proc;
    await waitForNats(
      this.url,
      this.startupTimeoutMs,
      () =>
        proc.running
          ? undefined
          : `nats-server ${proc.describeExit()} before becoming ready:\n${proc.tail()}`,
      this.client,
    );
  }

  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM');
  }

  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop();
    removeTempDir(this.storeDir);
  }

  logs(): string[] {
    return [...this.history, ...(this.proc?.logs() ?? [])];
  }
}

class ContainerNats implements NatsServer {
  readonly source = 'container' as const;
  readonly storeDir = undefined;
  private up = true;

  constructor(
    private readonly container: StartedTestContainer,
    readonly port: number,
    private readonly startupTimeoutMs: number,
  ) {}

  get host(): string {
    return this.container.getHost();
  }

  get url(): string {
    return `nats://${this.host}:${this.port}`;
  }

  get running(): boolean {
    return this.up;
  }

  private async engineContainer() {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const client = await getContainerRuntimeClient();
    return client.container.getById(this.container.getId());
  }

  async stop(): Promise<void> {
    if (!this.up) return;
    await (await this.engineContainer()).stop({ t: 10 });
    this.up = false;
  }

  async kill(): Promise<void> {
    if (!this.up) return;
    await (await this.engineContainer()).kill({ signal: 'SIGKILL' });
    this.up = false;
  }

  async start(): Promise<void> {
    if (this.up) return;
    await (await this.engineContainer()).start();
    this.up = true;
    await waitForNats(this.url, this.startupTimeoutMs);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.container.stop({ timeout: 0 });
    this.up = false;
  }

  logs(): string[] {
    return [];
  }
}

async function startNatsContainer(options: StartNatsOptions, timeoutMs: number): Promise<NatsServer> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const image = options.image ?? process.env.KAIROS_NATS_IMAGE ?? 'nats:2.15-alpine';
  // A fixed host port keeps the URL stable across restarts of the same container.
  const port = options.port ?? (await freePort());
  const container = await new GenericContainer(image)
    .withCommand(['-js', '-sd', '/data', ...(options.args ?? [])])
    .withExposedPorts({ container: 4222, host: port })
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .withStartupTimeout(timeoutMs)
    .start();
  const server = new ContainerNats(container, port, timeoutMs);
  await waitForNats(server.url, timeoutMs);
  return server;
}

/**
 * Provides a NATS server with JetStream: `NATS_URL` when set; a container when a container runtime
 * answers; otherwise a local `nats-server` on a free port with a temporary store dir.
 */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsServer> {
  const timeoutMs = options.startupTimeoutMs ?? 20_000;
  const configured = options.config !== undefined;
  const envUrl = options.ignoreEnv || configured ? undefined : process.env.NATS_URL;
  if (envUrl) {
    logOnce('nats-source', `NATS: using NATS_URL=${envUrl}`);
    await waitForNats(envUrl, timeoutMs);
    const first = envUrl.split(',')[0];
    const parsed = new URL(first.includes('://') ? first : `nats://${first}`);
    return {
      url: envUrl,
      host: parsed.hostname,
      port: Number(parsed.port || 4222),
      source: 'env',
      storeDir: undefined,
      running: true,
      stop: async () => undefined,
      dispose: async () => undefined,
      kill: unsupported('kill'),
      start: unsupported('start'),
      restart: unsupported('restart'),
      logs: () => [],
    };
  }
  if (!configured && (await containerRuntimeAvailable())) {
    const server = await startNatsContainer(options, Math.max(timeoutMs, 120_000));
    logOnce('nats-source', `NATS: using a testcontainers container (${server.url})`);
    return server;
  }
  const binary = findBinary('nats-server');
  if (!binary) throw missingBinaryError('NATS', ['nats-server']);
  const port = options.port ?? (await freePort());
  const storeDir = makeTempDir('nats');
  const args = [...(options.args ?? [])];
  if (configured) {
    // Outside the store dir, which belongs to JetStream; removed when the process exits.
    const file = join(makeTempDir('nats-conf'), 'nats.conf');
    writeFileSync(file, options.config!, { mode: 0o600 });
    args.unshift('-c', file);
  }
  const server = new BinaryNats(binary, port, storeDir, args, timeoutMs, options.client);
  try {
    await server.start();
  } catch (err) {
    await server.dispose().catch(() => undefined);
    throw err;
  }
  logOnce('nats-source', `NATS: using local binary ${binary} (first at ${server.url})`);
  return server;
}
