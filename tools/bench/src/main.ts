// `pnpm bench [suite ...]`: runs the named benchmark suites (all when none is named), prints a table
// per suite, and ends with one line holding one JSON object of every figure measured.
import { BenchInfra } from './infra';
import { runCeilingBenchmark } from './ceiling';

type Figures = Record<string, number>;
interface Suite {
  description: string;
  run(infra: BenchInfra, figures: Figures): Promise<string>;
}

async function ceiling(infra: BenchInfra, figures: Figures): Promise<void> {
  if (figures.jetstream_ceiling_msgs_per_s) return;
  const nats = await infra.natsServer();
  const r = await runCeilingBenchmark(nats.url, Number(process.env.KAIROS_BENCH_CEILING_MESSAGES ?? 50_000));
  figures.jetstream_ceiling_msgs_per_s = r.jetstream_ceiling_msgs_per_s;
  figures.jetstream_publish_msgs_per_s = r.jetstream_publish_msgs_per_s;
  console.log(r.table);
}

const SUITES: Record<string, Suite> = {
  ceiling: {
    description: 'raw JetStream publish + consume through one file-backed stream',
    async run(infra, figures) {
      await ceiling(infra, figures);
      return '';
    },
  },
};

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
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
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
