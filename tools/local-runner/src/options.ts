import { parseArgs } from 'node:util';

export const SERVICE_ORDER = [
  'enrichment',
  'ingest',
  'pattern-detection',
  'orchestration',
  'delivery',
  'analytics',
  'prediction',
];

export interface RunnerOptions {
  services: string[] | undefined;
  rate: number;
  durationSeconds: number;
  simulate: boolean;
}

const USAGE = `usage: pnpm start [-- --services ingest,enrichment] [--rate 5] [--duration 0] [--no-simulate]
  --services   comma-separated services to run (default: every built service)
  --rate       simulated events per second (default 5)
  --duration   stop after this many seconds (default 0 = until Ctrl-C)
  --no-simulate  do not run the population simulator`;

/** Parses the runner's flags; throws an Error whose message says what to fix. */
export function parseOptions(argv: string[]): RunnerOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      services: { type: 'string' },
      rate: { type: 'string', default: '5' },
      duration: { type: 'string', default: '0' },
      'no-simulate': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  const rate = Number(values.rate);
  if (!Number.isFinite(rate) || rate < 0)
    throw new Error(`--rate: expected a number of events per second >= 0, got '${values.rate}'`);
  const durationSeconds = Number(values.duration);
  if (!Number.isFinite(durationSeconds) || durationSeconds < 0) {
    throw new Error(`--duration: expected seconds >= 0, got '${values.duration}'`);
  }
  let services: string[] | undefined;
  if (values.services) {
    services = values.services
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const unknown = services.filter((s) => !SERVICE_ORDER.includes(s));
    if (unknown.length)
      throw new Error(`--services: unknown ${unknown.join(', ')}; known: ${SERVICE_ORDER.join(', ')}`);
  }
  return { services, rate, durationSeconds, simulate: !values['no-simulate'] };
}
