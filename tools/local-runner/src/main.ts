// `pnpm start`: the whole mesh on this machine. Starts NATS JetStream and a MongoDB-wire database
// (env URL, container, or local binary — see libs/testkit), then every built service as its own
// process with interleaved, readable logs; applies the sample definitions and drives the simulator
// when those tools are built. Ctrl-C drains every service, then stops the infrastructure.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TELEMETRY_PRELOAD } from '@kairos/telemetry';
import { startMongo, startNats } from '@kairos/testkit';
import { parseOptions, SERVICE_ORDER, type RunnerOptions } from './options';

const ROOT = join(__dirname, '..', '..', '..', '..');
const PORTS: Record<string, [number, number]> = {
  ingest: [50051, 8081],
  enrichment: [50052, 8082],
  'pattern-detection': [50053, 8083],
  orchestration: [50054, 8084],
  delivery: [50055, 8085],
  analytics: [50056, 8086],
};
const COLORS = [36, 33, 35, 32, 34, 31];

function prefixLines(name: string, color: number, stream: NodeJS.ReadableStream): void {
  const tag = `\x1b[${color}m${name.padEnd(18)}\x1b[0m`;
  createInterface({ input: stream }).on('line', (line) => {
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      const { level, msg, time: _t, service: _s, pid: _p, hostname: _h, ...rest } = j;
      const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
      process.stdout.write(`${tag} ${String(level).padEnd(5)} ${String(msg)}${extra}\n`);
    } catch {
      process.stdout.write(`${tag} ${line}\n`);
    }
  });
}

async function run(options: RunnerOptions): Promise<void> {
  console.log('Kairos local mesh: starting NATS JetStream and the MongoDB-wire database...');
  const nats = await startNats({ port: Number(process.env.KAIROS_NATS_PORT ?? 4222) });
  const mongo = await startMongo({ port: Number(process.env.KAIROS_MONGO_PORT ?? 27017) });
  console.log(`  NATS     ${nats.url} (${nats.source})`);
  console.log(`  MongoDB  ${mongo.url} (${mongo.engine})`);

  const built = SERVICE_ORDER.filter((s) => existsSync(join(ROOT, 'services', s, 'dist', 'src', 'main.js')));
  const wanted = options.services ?? built;
  const missing = wanted.filter((s) => !built.includes(s));
  if (missing.length) console.log(`  not built (skipped): ${missing.join(', ')}`);
  const children: Array<{ name: string; child: ChildProcess }> = [];
  wanted
    .filter((s) => built.includes(s))
    .forEach((name, i) => {
      const [grpcPort, httpPort] = PORTS[name];
      const child = spawn(
        process.execPath,
        ['--require', TELEMETRY_PRELOAD, join(ROOT, 'services', name, 'dist', 'src', 'main.js')],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            NATS_URL: nats.url,
            MONGO_URL: mongo.url,
            OTEL_SERVICE_NAME: name,
            KAIROS_GRPC_PORT:
              process.env[`KAIROS_${name.toUpperCase().replace('-', '_')}_GRPC_PORT`] ?? String(grpcPort),
            KAIROS_HTTP_PORT: String(httpPort),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      prefixLines(name, COLORS[i % COLORS.length], child.stdout!);
      prefixLines(name, COLORS[i % COLORS.length], child.stderr!);
      children.push({ name, child });
    });

  console.log('\nWhere to look:');
  for (const { name } of children) {
    const [g, h] = PORTS[name];
    console.log(`  ${name.padEnd(18)} gRPC 127.0.0.1:${g}  http://127.0.0.1:${h}/readyz  /metrics`);
  }
  if (children.some((c) => c.name === 'delivery'))
    console.log('  in-app inbox       http://127.0.0.1:8085/inbox/<customerId>');
  console.log('  traces             set OTEL_EXPORTER_OTLP_ENDPOINT before `pnpm start` to export them');
  console.log(
    '  send an event      node tools/kairosctl/dist/src/main.js send --type cart.item_added --customer c1',
  );
  console.log('Ctrl-C stops everything.\n');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping services (drain)...');
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
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
  if (options.durationSeconds > 0) setTimeout(() => void stop(), options.durationSeconds * 1000);
}

let options: RunnerOptions;
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
run(options).catch((err) => {
  console.error(`local runner failed: ${(err as Error).message}`);
  process.exit(1);
});
