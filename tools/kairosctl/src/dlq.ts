import { SCHEMAS } from '@kairos/contracts';
import {
  DeadLetterNotFound,
  getDeadLetter,
  listDeadLetters,
  replayDeadLetter,
  type DeadLetter,
  type DeadLetterMessage,
} from '@kairos/messaging';
import { withNats } from './clients';
import { parse } from './args';
import type { Command } from './commands';
import { EXIT, failed, usageError } from './errors';
import { table, type Io } from './io';

const USAGE =
  'dlq list [--subject <filter>] [--limit <n>] [-o table|json] | dlq show <seq> | dlq replay <seq ...>';

function output(command: string, value: string | undefined): 'table' | 'json' {
  const o = value ?? 'table';
  if (o !== 'table' && o !== 'json')
    throw usageError(`${command}: unknown output '${o}' (expected table or json)`);
  return o;
}

function sequences(command: string, words: string[]): number[] {
  if (words.length === 0)
    throw usageError(`${command}: missing <seq> (the SEQ column of 'kairosctl dlq list')`);
  return words.map((w) => {
    if (!/^[1-9]\d{0,15}$/.test(w))
      throw usageError(`${command}: '${w}' is not a DLQ sequence (a positive integer)`);
    return Number(w);
  });
}

/** The payload as JSON when its schema is one Kairos knows, else base64. */
function payload(dead: DeadLetterMessage): unknown {
  const schema = Object.values(SCHEMAS).find((s) => s.name === dead.headers['Kairos-Schema']);
  if (schema) {
    try {
      return (schema.type as unknown as { toJSON(m: unknown): unknown }).toJSON(
        schema.type.decode(dead.data),
      );
    } catch {
      // Undecodable (often why it was dead-lettered): shown raw below.
    }
  }
  return { base64: Buffer.from(dead.data).toString('base64') };
}

const json = (d: DeadLetter) => ({ ...d, time: d.time.toISOString() });

async function list(args: string[], io: Io): Promise<number> {
  const { values } = parse('dlq list', args, {
    subject: { type: 'string' },
    limit: { type: 'string' },
    output: { type: 'string', short: 'o' },
  });
  const format = output('dlq list', values.output);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
    throw usageError(`dlq list: --limit must be an integer from 1 to 100000, got '${values.limit}'`);
  }
  return withNats(io, async (nc) => {
    const entries = await listDeadLetters(nc, { subject: values.subject, limit });
    if (format === 'json') {
      io.out(JSON.stringify(entries.map(json), null, 2));
    } else if (entries.length === 0) {
      io.out('no dead letters');
    } else {
      const rows = entries.map((e) => [
        String(e.seq),
        e.time.toISOString(),
        e.subject,
        e.consumer || '-',
        String(e.deliveries),
        e.error.length > 80 ? `${e.error.slice(0, 79)}…` : e.error,
      ]);
      for (const l of table(['SEQ', 'AT', 'SUBJECT', 'CONSUMER', 'TRIES', 'ERROR'], rows)) io.out(l);
    }
    return EXIT.ok;
  });
}

async function show(args: string[], io: Io): Promise<number> {
  const { positionals } = parse('dlq show', args, {}, 1);
  const [seq] = sequences('dlq show', positionals);
  return withNats(io, async (nc) => {
    const dead = await getDeadLetter(nc, seq!).catch(notFound);
    const { data: _data, ...rest } = dead;
    io.out(JSON.stringify({ ...json(rest), payload: payload(dead) }, null, 2));
    return EXIT.ok;
  });
}

async function replay(args: string[], io: Io): Promise<number> {
  const { positionals } = parse('dlq replay', args, {}, 1_000);
  const seqs = sequences('dlq replay', positionals);
  return withNats(io, async (nc) => {
    let missing = 0;
    for (const seq of seqs) {
      try {
        const r = await replayDeadLetter(nc, seq);
        const to = r.entry.consumer ? `consumer ${r.entry.consumer}` : 'every consumer of the subject';
        io.out(
          `replayed ${seq} to ${r.entry.subject} (${to}) as ${r.entry.stream || 'stream'} sequence ${r.replayedSeq}` +
            (r.duplicate ? ' (already replayed: stored once)' : ''),
        );
      } catch (err) {
        if (!(err instanceof DeadLetterNotFound)) throw err;
        io.err(`error: ${err.message}`);
        missing++;
      }
    }
    return missing ? EXIT.failed : EXIT.ok;
  });
}

function notFound(err: unknown): never {
  if (err instanceof DeadLetterNotFound) throw failed(err.message);
  throw err;
}

/** `kairosctl dlq list|show|replay`: inspect dead-lettered messages and send them back once. */
export const dlq: Command = async (args, io) => {
  const [sub, ...rest] = args;
  if (sub === 'list') return list(rest, io);
  if (sub === 'show') return show(rest, io);
  if (sub === 'replay') return replay(rest, io);
  throw usageError(
    sub ? `dlq: unknown subcommand '${sub}' (${USAGE})` : `dlq: missing subcommand (${USAGE})`,
  );
};
