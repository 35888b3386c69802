// `pnpm bench [suite ...] [--out[=<file>]]`: runs the named benchmark suites (all when none is named),
// prints a table per suite, and ends with one line holding one JSON object of every figure measured;
// `--out` also writes that object to `bench/results/<timestamp>.json` (or to <file>).
// tsyringe-decorated service modules need the Reflect polyfill before they load.
import 'reflect-metadata';
import { join } from 'node:path';
import { TELEMETRY_PRELOAD } from '@kairos/telemetry';
import { freePort, startMongo, startServiceProcess } from '@kairos/testkit';
import { BenchInfra } from './infra';
import { runEngineSuite } from './engine';
import { runProfileBenchmark, seedProfileBenchmark } from './profiles';
import { table } from './table';
import { runNodeClientCeiling, runServerCeiling, natsCli, type CeilingFigures } from './server-ceiling';
import { runIngestBenchmark } from './ingest';
import { runActionsBenchmark } from './actions';
import { runCeilingBenchmark } from './ceiling';
import { runMeshBenchmark } from './mesh';
import { runPredictionBenchmark } from './prediction';
import { runCdnowCheck } from './prediction-cdnow';
import { runAnalyticsBenchmark } from './analytics';
import { cpuProfileArgs } from './cpu-profile';
import { parseBenchArgs, writeBenchResults } from './results';

const ROOT = join(__dirname, '..', '..', '..', '..');
type Figures = Record<string, number>;
interface Suite {
  description: string;
  run(infra: BenchInfra, figures: Figures): Promise<string>;
}

async function ceiling(infra: BenchInfra, figures: Figures): Promise<void> {
  if (figures.jetstream_ceiling_msgs_per_s) return;
  const nats = await infra.natsServer();
  const messages = Number(process.env.KAIROS_BENCH_CEILING_MESSAGES ?? 50_000);
  const r = await runCeilingBenchmark(nats.url, messages);
  figures.jetstream_ceiling_msgs_per_s = r.jetstream_ceiling_msgs_per_s;
  figures.jetstream_publish_msgs_per_s = r.jetstream_publish_msgs_per_s;
  console.log(r.table);
  if (!natsCli()) {
    console.log("natscli ('nats') not installed: no server ceiling (scripts/install-tools.sh natscli)");
    return;
  }
  // Alternating rounds: the machine's speed drifts, so only figures of one run compare.
  const rounds = Number(process.env.KAIROS_BENCH_CEILING_ROUNDS ?? 3);
  const server: CeilingFigures[] = [];
  const node: CeilingFigures[] = [];
  for (let i = 0; i < rounds; i++) {
    server.push(await runServerCeiling(nats.url, messages));
    node.push(await runNodeClientCeiling(nats.url, messages));
    console.error(
      `ceiling round ${i + 1}/${rounds}: nats bench ${server[i].msgsPerS} msgs/s, Node ${node[i].msgsPerS} msgs/s`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  figures.jetstream_server_ceiling_msgs_per_s = median(server.map((f) => f.msgsPerS));
  figures.nats_server_cpu_us_per_msg = median(server.map((f) => f.serverCpuUsPerMsg));
  figures.node_client_ceiling_msgs_per_s = median(node.map((f) => f.msgsPerS));
  figures.node_client_nats_cpu_us_per_msg = median(node.map((f) => f.serverCpuUsPerMsg));
  figures.node_client_ratio = Number(
    (figures.node_client_ceiling_msgs_per_s / figures.jetstream_server_ceiling_msgs_per_s).toFixed(3),
  );
  const row = (name: string, fs: CeilingFigures[]) => [
    name,
    fs.map((f) => f.msgsPerS).join(' / '),
    fs.map((f) => f.serverCpuUsPerMsg).join(' / '),
  ];
  console.log(
    table(
      `Server vs Node client ceiling (${messages.toLocaleString('en-US')} messages each, ${rounds} alternating rounds; node_client_ratio ${figures.node_client_ratio})`,
      ['measure', 'msgs/s per round', 'nats-server µs CPU/msg'],
      [
        row('nats bench (Go): pub async + consume, explicit acks', server),
        row('Node: Publisher process + 16 ordered-batch ConsumeLoops', node),
      ],
    ),
  );
}

/**
 * Starts a service as its own process, as deployed (the benchmark process is its client), with a
 * free gRPC port and the given environment.
 */
async function startService(
  name: string,
  env: Record<string, string>,
): Promise<{ address: string; stop(): Promise<unknown> }> {
  const grpcPort = await freePort();
  const service = await startServiceProcess({
    name,
    script: join(ROOT, 'services', name, 'dist', 'src', 'main.js'),
    requireTelemetry: TELEMETRY_PRELOAD,
    nodeArgs: cpuProfileArgs(name),
    env: { ...env, KAIROS_GRPC_PORT: String(grpcPort), KAIROS_HTTP_PORT: '0', LOG_LEVEL: 'warn' },
    readiness: { grpcPort },
  });
  return { address: `127.0.0.1:${grpcPort}`, stop: () => service.stop() };
}

const SUITES: Record<string, Suite> = {
  engine: {
    description:
      'pattern engine in-process: 50 triggers over 100k customers, one core, from YAML/CEL and as closures',
    async run(_infra, figures) {
      const r = await runEngineSuite();
      figures.engine_events_per_s = r.engine_events_per_s;
      figures.engine_native_events_per_s = r.engine_native_events_per_s;
      figures.engine_state_bytes_per_customer = r.engine_state_bytes_per_customer;
      return r.table;
    },
  },
  ingest: {
    description:
      'ingest events/s accepted durable (TrackBatch and Stream) beside the raw JetStream publish ceiling',
    async run(infra, figures) {
      await ceiling(infra, figures);
      const nats = await infra.natsServer();
      const service = await startService('ingest', { NATS_URL: nats.url });
      const r = await runIngestBenchmark({ natsUrl: nats.url, address: service.address }).finally(() =>
        service.stop(),
      );
      figures.ingest_events_per_s = r.ingest_events_per_s;
      figures.ingest_batched_events_per_s = r.batched_events_per_s;
      figures.ingest_streamed_events_per_s = r.streamed_events_per_s;
      figures.ingest_ratio_to_ceiling = Number(
        (r.ingest_events_per_s / figures.jetstream_publish_msgs_per_s).toFixed(3),
      );
      return `${r.table}\n\ningest / raw JetStream publish ceiling = ${figures.ingest_ratio_to_ceiling}`;
    },
  },
  actions: {
    description: 'orchestration: TriggerFired → ActionRequested latency and rate with a zero-delay workflow',
    async run(infra, figures) {
      const [nats, mongo] = await Promise.all([infra.natsServer(), infra.mongoServer()]);
      const r = await runActionsBenchmark({ natsUrl: nats.url, mongoUrl: mongo.url });
      figures.trigger_to_action_p50_ms = r.trigger_to_action_p50_ms;
      figures.trigger_to_action_p99_ms = r.trigger_to_action_p99_ms;
      figures.actions_per_s = r.actions_per_s;
      return r.table;
    },
  },
  mesh: {
    description: 'the whole mesh driven by the simulator at increasing offered load, beside the ceiling',
    async run(infra, figures) {
      await ceiling(infra, figures);
      const nats = await infra.natsServer();
      // A database of its own: after other suites the shared one holds their collections, which
      // slow the mesh's writes down.
      const mongo = await startMongo();
      const loads = process.env.KAIROS_BENCH_MESH_LOADS?.split(',').map(Number);
      const r = await runMeshBenchmark({
        natsUrl: nats.url,
        mongoUrl: mongo.url,
        // Against the server's own ceiling (nats bench) when natscli is installed.
        ceilingMsgsPerS: figures.jetstream_server_ceiling_msgs_per_s ?? figures.jetstream_ceiling_msgs_per_s,
        loads,
        phaseSeconds: Number(process.env.KAIROS_BENCH_MESH_SECONDS ?? 10),
      }).finally(() => mongo.stop());
      Object.assign(figures, r.figures);
      return r.table;
    },
  },
  profiles: {
    description: 'ProfileService Get latency over gRPC on 100k profiles, beside raw findOne',
    async run(infra, figures) {
      const [nats, mongo] = await Promise.all([infra.natsServer(), infra.mongoServer()]);
      const dbName = `bench_profiles_${Date.now()}`;
      const seedSeconds = await seedProfileBenchmark({ mongoUrl: mongo.url, dbName });
      const service = await startService('enrichment', {
        NATS_URL: nats.url,
        MONGO_URL: mongo.url,
        MONGO_DB: dbName,
      });
      const r = await runProfileBenchmark({ address: service.address, mongoUrl: mongo.url, dbName }).finally(
        () => service.stop(),
      );
      figures.profile_get_p50_ms = r.profile_get_p50_ms;
      figures.profile_get_p99_ms = r.profile_get_p99_ms;
      figures.profile_raw_find_p99_ms = r.raw_find_p99_ms;
      return `seeded in ${seedSeconds.toFixed(1)} s${r.table}`;
    },
  },
  prediction: {
    description:
      'prediction domain in-process: loadgen population over 210 simulated days, held-out customers scored against ground truth; the CDNOW purchase log against BG/NBD and Pareto/NBD',
    async run(_infra, figures) {
      const r = await runPredictionBenchmark({
        customers: Number(process.env.KAIROS_BENCH_PREDICTION_CUSTOMERS ?? 6_000),
      });
      const cdnow = runCdnowCheck();
      Object.assign(figures, r.figures, cdnow.figures);
      return `${r.table}\n${cdnow.table}`;
    },
  },
  analytics: {
    description:
      'analytics: a simulated month (50 triggers, known uplift and values) through the service; lift and ROI against the truth, ingest rate, dashboard query latency',
    async run(infra, figures) {
      const [nats, mongo] = await Promise.all([infra.natsServer(), infra.mongoServer()]);
      const r = await runAnalyticsBenchmark({
        natsUrl: nats.url,
        mongoUrl: mongo.url,
        days: 30,
        triggers: 50,
        firesPerTriggerPerDay: Number(process.env.KAIROS_BENCH_ANALYTICS_FIRES ?? 100),
        pageLoads: 50,
      });
      Object.assign(figures, r.figures);
      return r.table;
    },
  },
  ceiling: {
    description: 'raw JetStream publish + consume through one file-backed stream',
    async run(infra, figures) {
      await ceiling(infra, figures);
      return '';
    },
  },
};

async function main(): Promise<void> {
  const startedAt = new Date();
  let args: ReturnType<typeof parseBenchArgs>;
  try {
    args = parseBenchArgs(process.argv.slice(2), ROOT, process.env, startedAt);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const requested = args.suites;
  const unknown = requested.filter((s) => !SUITES[s]);
  if (unknown.length) {
    console.error(
      `unknown benchmark suite(s): ${unknown.join(', ')}; available: ${Object.keys(SUITES).join(', ')}`,
    );
    process.exit(2);
  }
  const names = requested.length ? requested : Object.keys(SUITES);
  const infra = new BenchInfra();
  const figures: Figures = {};
  try {
    for (const name of names) {
      console.log(`\n== ${name}: ${SUITES[name].description}`);
      const out = await SUITES[name].run(infra, figures);
      if (out) console.log(out);
    }
  } finally {
    await infra.dispose();
  }
  console.log(JSON.stringify(figures));
  if (args.out) {
    writeBenchResults(args.out, ROOT, names, figures, startedAt);
    console.log(`figures written to ${args.out}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
