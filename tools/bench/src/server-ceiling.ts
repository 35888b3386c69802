import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, provisionStreams, silentLogger } from '@kairos/messaging';
import { TELEMETRY_PRELOAD } from '@kairos/telemetry';
import { cpuSeconds, findBinary, infraPids } from '@kairos/testkit';
import { NODE_CEILING } from './node-ceiling-worker';

const run = promisify(execFile);

export interface CeilingFigures {
  /** Publish and consume at once, explicit acks, 400-byte messages with de-duplication ids. */
  msgsPerS: number;
  /** nats-server CPU per message over the same span. */
  serverCpuUsPerMsg: number;
}

function natsServerPid(natsUrl: string): number {
  const port = Number(new URL(natsUrl).port);
  const found = infraPids([port]).find(([name]) => name === 'nats-server');
  if (!found) throw new Error(`no nats-server process listening on port ${port} found in /proc`);
  return found[1];
}

/** Runs `body` and measures its wall time and the nats-server CPU it cost, per message. */
async function measured(
  natsUrl: string,
  messages: number,
  body: () => Promise<void>,
): Promise<CeilingFigures> {
  const pid = natsServerPid(natsUrl);
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  await body();
  const seconds = (performance.now() - t0) / 1000;
  return {
    msgsPerS: Math.round(messages / seconds),
    serverCpuUsPerMsg: Math.round(((cpuSeconds(pid) - cpu0) * 1e6) / messages),
  };
}

/** The `nats` CLI (natscli, pinned by scripts/install-tools.sh), or undefined when not installed. */
export function natsCli(): string | undefined {
  return findBinary('nats');
}

/**
 * The server's own ceiling, measured by Go's `nats bench` (natscli) beside the Node figures: a file
 * stream, an asynchronous publisher with de-duplication ids and a durable consumer acking each
 * message explicitly, publishing and consuming `messages` 400-byte messages at once.
 */
export async function runServerCeiling(natsUrl: string, messages: number): Promise<CeilingFigures> {
  const cli = natsCli();
  if (!cli) throw new Error("natscli ('nats') not found: run scripts/install-tools.sh natscli");
  const nats = (...args: string[]) => run(cli, ['-s', natsUrl, ...args], { maxBuffer: 16 * 1024 * 1024 });
  const stream = 'BENCHSERVER';
  const common = ['--stream', stream, '--no-progress'];
  const pub = ['bench', 'js', 'pub', 'async', 'bench.server', '--size', '400', '--dedup', ...common];
  // Creates the stream and warms the server up.
  await nats(...pub, '--msgs', '5000', '--create', '--purge');
  await nats('stream', 'purge', stream, '-f');
  try {
    return await measured(natsUrl, messages, async () => {
      const consume = nats(
        'bench',
        'js',
        'consume',
        '--msgs',
        String(messages),
        '--acks',
        'explicit',
        ...common,
      );
      await nats(...pub, '--msgs', String(messages));
      await consume;
    });
  } finally {
    await nats('stream', 'rm', stream, '-f').catch(() => undefined);
  }
}

/** Starts the worker in `mode`; resolves with its process once it printed `ready` (or at once). */
function worker(mode: 'pub' | 'consume', natsUrl: string, messages: number, run: string) {
  const script = join(__dirname, 'node-ceiling-worker.js');
  const child = spawn(
    process.execPath,
    ['--require', TELEMETRY_PRELOAD, script, mode, natsUrl, String(messages), run],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OTEL_SERVICE_NAME: `ceiling-${mode}` } },
  );
  const lines = createInterface({ input: child.stdout! });
  const seen = (word: string) =>
    new Promise<void>((resolve, reject) => {
      lines.on('line', (l) => l.startsWith(word) && resolve());
      child.on('exit', (code) =>
        reject(new Error(`ceiling ${mode} worker exited with ${code} before '${word}'`)),
      );
    });
  return { ready: seen('ready'), done: seen('done'), stop: () => child.kill('SIGKILL') };
}

/**
 * The Node client's ceiling as the services use it: a publisher process (the services' Publisher,
 * pipelined) and a consumer process (16 ordered-batch ConsumeLoops, enrichment's mode and batch
 * size, a handler that does nothing), on the EVENTS stream, with the telemetry preload. Wall time
 * from the first publish to the last message consumed.
 */
export async function runNodeClientCeiling(natsUrl: string, messages: number): Promise<CeilingFigures> {
  const nc = await connectNats({ servers: natsUrl, name: 'bench-node-ceiling', logger: silentLogger });
  const jsm = await jetstreamManager(nc);
  await provisionStreams(nc);
  // Consumers of their own per run: a durable left by an earlier run must not be picked up.
  const run = Date.now().toString(36);
  const cleanup = async () => {
    for (let p = 0; p < NODE_CEILING.partitions; p++) {
      await jsm.consumers.delete('EVENTS', `bench-ceiling-${run}-p${p}`).catch(() => undefined);
    }
    await jsm.streams.purge('EVENTS', { filter: 'events.raw.*.bench.ceiling' });
  };
  await cleanup();
  const workers: Array<ReturnType<typeof worker>> = [];
  try {
    const consumer = worker('consume', natsUrl, messages, run);
    workers.push(consumer);
    await consumer.ready;
    return await measured(natsUrl, messages, async () => {
      const publisher = worker('pub', natsUrl, messages, run);
      workers.push(publisher);
      await Promise.all([publisher.ready, publisher.done, consumer.done]);
    });
  } finally {
    for (const w of workers) w.stop();
    await cleanup();
    await nc.close();
  }
}
