import type { ScenarioCounts } from './scenarios';

/** A command-line mistake: printed with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `usage:
  loadgen run    --address host:port [--api-key K] [--tls] --rate EVENTS_PER_S (--duration S | --events N)
                 [--customers N] [--seed N] [--scenarios N] [--uplift P] [--run-id ID]
                 [--churn-decline-days D] [--timestamps wall|simulated] [--start ISO]
                 [--react --nats nats://host:4222 [--react-grace S]] [--ledger out.json|out.ndjson]
  loadgen ndjson [--customers N] [--hours H] [--seed N] [--scenarios N] [--start ISO] [--run-id ID]
                 [--churn-decline-days D] [--out events.ndjson] [--ledger ledger.json]

run     drives ingest at an offered load and prints a JSON summary; --react answers delivered
        messages (sent outcomes on actions.outcome.>) with opens, clicks and purchases.
ndjson  writes simulated events (one JSON object per line, for kairosctl simulate) instantly.
--churn-decline-days: median days over which activity fades before a customer churns (default 0:
        abrupt churn, as in earlier versions).`;

export interface CommonArgs {
  customers: number;
  seed: number;
  scenarios: ScenarioCounts;
  runId?: string;
  start?: string;
  ledger?: string;
  uplift: number;
  churnDeclineDays: number;
}

export interface RunArgs extends CommonArgs {
  command: 'run';
  address: string;
  apiKey?: string;
  tls: boolean;
  rate: number;
  durationS?: number;
  events?: number;
  timestamps: 'wall' | 'simulated';
  react: boolean;
  nats: string;
  reactGraceS: number;
}

export interface NdjsonArgs extends CommonArgs {
  command: 'ndjson';
  hours: number;
  out?: string;
}

export type ParsedArgs = RunArgs | NdjsonArgs | { command: 'help' };

const BOOLEAN_FLAGS = new Set(['react', 'tls', 'help']);
const FLAGS: Record<'run' | 'ndjson', Set<string>> = {
  run: new Set([
    'address',
    'api-key',
    'tls',
    'rate',
    'duration',
    'events',
    'customers',
    'seed',
    'scenarios',
    'uplift',
    'churn-decline-days',
    'run-id',
    'timestamps',
    'start',
    'react',
    'nats',
    'react-grace',
    'ledger',
  ]),
  ndjson: new Set([
    'customers',
    'hours',
    'seed',
    'scenarios',
    'start',
    'run-id',
    'out',
    'ledger',
    'uplift',
    'churn-decline-days',
  ]),
};

function number(
  flags: Map<string, string>,
  name: string,
  fallback: number | undefined,
  check: (n: number) => boolean,
  what: string,
): number | undefined {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || !check(n))
    throw new UsageError(`--${name} must be ${what}, got '${raw}'`);
  return n;
}

const positive = (n: number) => n > 0;
const nonNegativeInt = (n: number) => Number.isInteger(n) && n >= 0;
const positiveInt = (n: number) => Number.isInteger(n) && n > 0;

/** Parses and validates argv (without node and script); throws UsageError naming the flag. */
export function parseArgs(argv: string[]): ParsedArgs {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h')
    return { command: 'help' };
  if (command !== 'run' && command !== 'ndjson')
    throw new UsageError(`unknown command '${command}' (expected run or ndjson)`);
  const flags = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (name === 'help') return { command: 'help' };
    if (!FLAGS[command].has(name)) throw new UsageError(`unknown flag --${name} for '${command}'`);
    if (flags.has(name)) throw new UsageError(`--${name} given twice`);
    if (BOOLEAN_FLAGS.has(name)) {
      if (eq >= 0 && !['true', 'false'].includes(arg.slice(eq + 1)))
        throw new UsageError(`--${name} is a switch; got '${arg.slice(eq + 1)}'`);
      flags.set(name, eq >= 0 ? arg.slice(eq + 1) : 'true');
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : rest[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--')))
      throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  const start = flags.get('start');
  if (start !== undefined && start !== 'now' && !Number.isFinite(Date.parse(start)))
    throw new UsageError(`--start must be an ISO time or 'now', got '${start}'`);
  const runId = flags.get('run-id');
  if (runId !== undefined && !/^[A-Za-z0-9_.-]+$/.test(runId))
    throw new UsageError(`--run-id must be letters, digits, '.', '_' or '-', got '${runId}'`);
  const common: CommonArgs = {
    customers: number(flags, 'customers', 1000, nonNegativeInt, 'an integer >= 0')!,
    seed: number(flags, 'seed', 42, (n) => Number.isInteger(n) && Math.abs(n) < 2 ** 31, 'an integer')!,
    scenarios: number(
      flags,
      'scenarios',
      1,
      nonNegativeInt,
      'an integer >= 0 (scripted customers per scenario)',
    )!,
    uplift: number(flags, 'uplift', 0.1, (n) => n >= 0 && n <= 1, 'a probability in [0, 1]')!,
    churnDeclineDays: number(
      flags,
      'churn-decline-days',
      0,
      (n) => n >= 0 && n <= 365,
      'a number of days in [0, 365]',
    )!,
    runId,
    start,
    ledger: flags.get('ledger'),
  };
  if (common.ledger === '') throw new UsageError('--ledger needs a file path');
  if (command === 'ndjson') {
    return {
      command,
      ...common,
      hours: number(flags, 'hours', 24, positive, 'a positive number of hours')!,
      out: flags.get('out'),
    };
  }
  const address = flags.get('address') ?? '127.0.0.1:50051';
  if (!/^[^\s:]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address))
    throw new UsageError(`--address must be host:port, got '${address}'`);
  const durationS = number(flags, 'duration', undefined, positive, 'a positive number of seconds');
  const events = number(flags, 'events', undefined, positiveInt, 'a positive integer');
  const rate = number(flags, 'rate', undefined, positive, 'a positive number of events per second');
  if (rate === undefined) throw new UsageError('--rate is required (events per second)');
  const timestamps = flags.get('timestamps') ?? 'wall';
  if (timestamps !== 'wall' && timestamps !== 'simulated')
    throw new UsageError(`--timestamps must be wall or simulated, got '${timestamps}'`);
  const react = flags.get('react') === 'true';
  if (!react && flags.has('nats')) throw new UsageError('--nats is only used with --react');
  if (!react && flags.has('react-grace')) throw new UsageError('--react-grace is only used with --react');
  const nats = flags.get('nats') ?? 'nats://127.0.0.1:4222';
  if (!/^(nats|tls):\/\/[^\s]+$/.test(nats))
    throw new UsageError(`--nats must be a nats:// URL, got '${nats}'`);
  return {
    command,
    ...common,
    address,
    apiKey: flags.get('api-key'),
    tls: flags.get('tls') === 'true',
    rate,
    durationS: durationS ?? (events === undefined ? 60 : undefined),
    events,
    timestamps,
    react,
    nats,
    reactGraceS: number(flags, 'react-grace', 5, (n) => n >= 0, 'a number of seconds >= 0')!,
  };
}
