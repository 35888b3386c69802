// `pnpm start`: the whole mesh on this machine. Starts NATS JetStream and a MongoDB-wire database
// (env URL, container, or local binary — see libs/testkit) and a local SMTP peer, then every built
// service as its own process with interleaved, readable logs; waits until each is SERVING, applies
// the sample definitions (examples/) and drives the population simulator when it is built.
// Ctrl-C drains every service, then stops the infrastructure.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { credentials, Metadata } from '@grpc/grpc-js';
import { health } from '@kairos/contracts';
import { TELEMETRY_PRELOAD } from '@kairos/telemetry';
import { childrenInOwnProcessGroup, startMongo, startNats, waitFor } from '@kairos/testkit';
import { applySampleDefinitions } from './definitions';
import { startMailPeer } from './mail-peer';
import { parseOptions, SERVICE_ORDER, type RunnerOptions } from './options';

const ROOT = join(__dirname, '..', '..', '..', '..');
const PORTS: Record<string, [number, number]> = {
  ingest: [50051, 8081],
  enrichment: [50052, 8082],
  'pattern-detection': [50053, 8083],
  orchestration: [50054, 8084],
  delivery: [50055, 8085],
  analytics: [50056, 8086],
  prediction: [50057, 8087],
};
const COLORS = [36, 33, 35, 32, 34, 31, 37];
/** Where the runner keeps the development credentials (the checkout's ignored `.kairos/` folder). */
const CREDENTIALS_DIR = join(ROOT, '.kairos', 'credentials');

/**
 * The development admin and service token files: made once with random tokens (mode 0600) and kept
 * across runs, so kairosctl (which reads the admin token file by default) keeps working. The
 * caller's own KAIROS_ADMIN_TOKEN_FILE / KAIROS_SERVICE_TOKEN_FILE take precedence.
 */
function devCredentials(): { KAIROS_ADMIN_TOKEN_FILE: string; KAIROS_SERVICE_TOKEN_FILE: string } {
  mkdirSync(CREDENTIALS_DIR, { recursive: true, mode: 0o700 });
  const file = (name: string, envName: string) => {
    const given = process.env[envName];
    if (given) return given;
    const path = join(CREDENTIALS_DIR, name);
    if (!existsSync(path) || readFileSync(path, 'utf8').trim() === '')
      writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
    return path;
  };
  return {
    KAIROS_ADMIN_TOKEN_FILE: file('admin-token', 'KAIROS_ADMIN_TOKEN_FILE'),
    KAIROS_SERVICE_TOKEN_FILE: file('service-token', 'KAIROS_SERVICE_TOKEN_FILE'),
  };
}

/** Every child process, so a failing runner never leaves services behind. */
const spawned: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of spawned) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Prints a child's lines with its name; pino JSON lines become `level msg {fields}`. */
function prefixLines(
  name: string,
  color: number,
  stream: NodeJS.ReadableStream,
  onMessage: (msg: string) => void = () => undefined,
): void {
  const tag = `\x1b[${color}m${name.padEnd(18)}\x1b[0m`;
  createInterface({ input: stream }).on('line', (line) => {
    let j: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed && typeof parsed === 'object' && 'msg' in parsed) j = parsed as Record<string, unknown>;
    } catch {
      // not a JSON log line: printed as it is
    }
    if (!j) return void process.stdout.write(`${tag} ${line}\n`);
    const { level, msg, time: _t, service: _s, pid: _p, hostname: _h, ...rest } = j;
    onMessage(String(msg));
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    process.stdout.write(`${tag} ${String(level).padEnd(5)} ${String(msg)}${extra}\n`);
  });
}

function spawnNode(
  name: string,
  color: number,
  args: string[],
  env: NodeJS.ProcessEnv,
  onMessage?: (msg: string) => void,
): ChildProcess {
  // Its own process group: a terminal's Ctrl-C reaches the runner only, which then stops the
  // services with one SIGTERM each (a second signal makes a service exit without draining).
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  spawned.push(child);
  prefixLines(name, color, child.stdout!, onMessage);
  prefixLines(name, color, child.stderr!, onMessage);
  return child;
}

function serving(port: number): Promise<boolean> {
  const client = new health.HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve) =>
    client.check({ service: '' }, new Metadata(), { deadline: Date.now() + 1_000 }, (err, res) => {
      client.close();
      resolve(!err && res.status === health.HealthCheckResponse_ServingStatus.SERVING);
    }),
  );
}

async function run(options: RunnerOptions): Promise<void> {
  console.log('Kairos local mesh: starting NATS JetStream and the MongoDB-wire database...');
  childrenInOwnProcessGroup(); // Ctrl-C reaches the runner only; `stop` drains services first
  const nats = await startNats({ port: Number(process.env.KAIROS_NATS_PORT ?? 4222) });
  const mongo = await startMongo({ port: Number(process.env.KAIROS_MONGO_PORT ?? 27017) });
  const mail = await startMailPeer(Number(process.env.KAIROS_MAIL_WEB_PORT ?? 8025));
  console.log(`  NATS     ${nats.url} (${nats.source})`);
  console.log(`  MongoDB  ${mongo.url} (${mongo.engine})`);
  console.log(`  SMTP     ${mail.smtpUrl} (local peer)`);
  const devTokens = devCredentials();
  console.log(`  admin token file  ${devTokens.KAIROS_ADMIN_TOKEN_FILE} (kairosctl and the dashboard login)`);

  const built = SERVICE_ORDER.filter((s) => existsSync(join(ROOT, 'services', s, 'dist', 'src', 'main.js')));
  const wanted = options.services ?? built;
  const missing = wanted.filter((s) => !built.includes(s));
  if (missing.length) console.log(`  not built (skipped): ${missing.join(', ')}`);
  const services = wanted.filter((s) => built.includes(s));
  // A service is polled only once it logged `ready` (listening): a loopback connect to a port in the
  // ephemeral range that nothing listens on yet can connect to itself (TCP simultaneous open) and
  // then hold the port the service is about to bind.
  const ready = new Set<string>();
  const children = services.map((name, i) => {
    const [grpcPort, httpPort] = PORTS[name];
    const child = spawnNode(
      name,
      COLORS[i % COLORS.length],
      ['--require', TELEMETRY_PRELOAD, join(ROOT, 'services', name, 'dist', 'src', 'main.js')],
      {
        ...process.env,
        ...devTokens,
        NATS_URL: nats.url,
        MONGO_URL: mongo.url,
        KAIROS_SMTP_URL: mail.smtpUrl,
        OTEL_SERVICE_NAME: name,
        KAIROS_GRPC_PORT: String(grpcPort),
        KAIROS_HTTP_PORT: String(httpPort),
      },
      (msg) => {
        if (msg === 'ready') ready.add(name);
      },
    );
    return { name, child };
  });

  let stopping = false;
  const sim: { child?: ChildProcess } = {}; // set once the simulator runs
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping (services drain first)...');
    const terminate = (child: ChildProcess) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    // The simulator first, so its events in flight still find ingest up.
    if (sim.child) await terminate(sim.child);
    await Promise.all(spawned.map(terminate));
    await mail.stop();
    await nats.dispose();
    await mongo.stop();
    console.log('stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  for (const { name, child } of children) {
    child.once('exit', (code) => {
      if (!stopping) console.log(`${name} exited with code ${code}`);
    });
  }

  await waitFor(async () => services.every((s) => ready.has(s)), {
    timeoutMs: 90_000,
    intervalMs: 100,
    message: 'every service ready',
  });
  await waitFor(async () => (await Promise.all(services.map((s) => serving(PORTS[s][0])))).every(Boolean), {
    timeoutMs: 90_000,
    intervalMs: 250,
    message: 'every service SERVING',
  });
  const applied = await applySampleDefinitions(nats.url, join(ROOT, 'examples'));
  console.log(`\nApplied sample definitions: ${applied.join(', ')}`);
  sim.child = startSimulator(options, nats.url);

  console.log('\nWhere to look:');
  for (const name of services) {
    const [g, h] = PORTS[name];
    console.log(`  ${name.padEnd(18)} gRPC 127.0.0.1:${g}  http://127.0.0.1:${h}/readyz  /metrics`);
  }
  if (services.includes('delivery'))
    console.log('  in-app inbox       http://127.0.0.1:8085/inbox/<customerId>');
  if (services.includes('analytics'))
    console.log(
      `  dashboard          http://127.0.0.1:${PORTS.analytics[1]}/  (log in with the admin token file's token; kairosctl report <measure>)`,
    );
  console.log(`  received mail      ${mail.webUrl}`);
  console.log(
    '  traces             set OTEL_EXPORTER_OTLP_ENDPOINT before starting to export them (OTLP/HTTP JSON)',
  );
  console.log(
    '  send an event      node tools/kairosctl/dist/src/main.js send --type cart.item_added --customer c1',
  );
  console.log('  read the profile   node tools/kairosctl/dist/src/main.js profile c1');
  console.log('Ctrl-C stops everything.\n');
  if (options.durationSeconds > 0) setTimeout(() => void stop(), options.durationSeconds * 1000);
}

/** Drives the mesh with the population simulator (tools/loadgen) when it is built. */
function startSimulator(options: RunnerOptions, natsUrl: string): ChildProcess | undefined {
  const script = join(ROOT, 'tools', 'loadgen', 'dist', 'src', 'main.js');
  if (!options.simulate || options.rate === 0) return;
  if (!existsSync(script)) {
    console.log('  simulator not built (tools/loadgen): no simulated traffic');
    return undefined;
  }
  const duration = String(options.durationSeconds || 7 * 86_400);
  return spawnNode(
    'simulator',
    COLORS[COLORS.length - 1],
    // prettier-ignore
    [script, 'run', '--address', '127.0.0.1:50051', '--rate', String(options.rate), '--duration', duration,
      '--customers', '200', '--seed', '42', '--react', '--nats', natsUrl],
    process.env,
  );
}

let options: RunnerOptions;
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
run(options).catch((err) => {
  console.error(`local runner failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
