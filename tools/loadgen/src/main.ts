#!/usr/bin/env node
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { KairosClient } from '@kairos/client';
import { parseArgs, USAGE, UsageError, type CommonArgs, type NdjsonArgs, type RunArgs } from './cli';
import { toNdjsonLine } from './events';
import { Ledger } from './ledger';
import { createPopulation, DEFAULT_START } from './population';
import { Reactor } from './reactor';
import { runLoad } from './run-load';

const log = (message: string, fields: Record<string, unknown> = {}) =>
  process.stderr.write(
    JSON.stringify({ level: 'info', time: new Date().toISOString(), msg: message, ...fields }) + '\n',
  );

/** The population the common flags describe, starting at `--start` (else at `defaultStart`). */
function populationOf(args: CommonArgs, defaultStart: number) {
  const start =
    args.start === undefined ? defaultStart : args.start === 'now' ? Date.now() : Date.parse(args.start);
  return createPopulation({
    seed: args.seed,
    customers: args.customers,
    scenarios: args.scenarios,
    runId: args.runId,
    uplift: args.uplift,
    churnDeclineDays: args.churnDeclineDays,
    startTime: start,
  });
}

async function writeNdjson(args: NdjsonArgs): Promise<void> {
  const population = populationOf(args, DEFAULT_START);
  const ledger = new Ledger(population);
  const until = population.options.startTime + args.hours * 3_600_000;
  const out: Writable = args.out ? createWriteStream(args.out) : process.stdout;
  let lines = 0;
  for (const event of population.eventsUntil(until)) {
    ledger.recordSent(event, event.occurredAt);
    lines++;
    if (!out.write(toNdjsonLine(event) + '\n')) await once(out, 'drain');
  }
  if (args.out) {
    out.end();
    await once(out, 'finish');
  }
  if (args.ledger) await ledger.write(args.ledger, until);
  log('ndjson written', {
    events: lines,
    customers: population.customers.length,
    hours: args.hours,
    out: args.out ?? 'stdout',
  });
}

async function run(args: RunArgs): Promise<void> {
  // Simulated timestamps must lie near now for ingest to accept them.
  const population = populationOf(args, args.timestamps === 'simulated' ? Date.now() : DEFAULT_START);
  // Per-event records only when they will be written: long runs keep just the counters.
  const ledger = new Ledger(population, { recordEvents: args.ledger !== undefined });
  const client = new KairosClient({ address: args.address, apiKey: args.apiKey, tls: args.tls });
  const abort = new AbortController();
  const stop = () => {
    log('stopping: finishing events in flight');
    abort.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let reactor: Reactor | undefined;
  if (args.react) {
    reactor = new Reactor({
      natsUrl: args.nats,
      client,
      population,
      ledger,
      onError: (err) => log('reaction failed', { err: err.message }),
    });
    await reactor.start();
    log('reacting to actions.outcome.>', { nats: args.nats });
  }
  log('load started', {
    address: args.address,
    rate: args.rate,
    durationS: args.durationS,
    events: args.events,
  });
  const result = await runLoad({
    client,
    population,
    ledger,
    rate: args.rate,
    durationMs: args.durationS === undefined ? undefined : args.durationS * 1000,
    events: args.events,
    timestamps: args.timestamps,
    signal: abort.signal,
  });
  if (reactor) {
    // Messages triggered by the last events are still on their way through the mesh.
    if (!abort.signal.aborted && args.reactGraceS > 0)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, args.reactGraceS * 1000);
        abort.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    await reactor.stop();
  }
  await client.close();
  if (args.ledger) await ledger.write(args.ledger);
  const { ledger: _ledger, ...numbers } = result;
  process.stdout.write(
    JSON.stringify(
      { ...numbers, reactions: reactor?.stats, scenarioCustomers: population.scenarioCustomers() },
      null,
      2,
    ) + '\n',
  );
  if (result.sent > 0 && result.rejected === result.sent) process.exitCode = 1;
}

async function mainCli(argv: string[]): Promise<void> {
  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`loadgen: ${err.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (args.command === 'help') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (args.command === 'ndjson') await writeNdjson(args);
  else await run(args);
}

mainCli(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`loadgen: ${err.message}\n`);
  process.exit(1);
});
