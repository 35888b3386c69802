import { stringify } from 'yaml';
import { events, ingest, profiles } from '@kairos/contracts';
import {
  DefinitionValidationError,
  formatError,
  loadDefinitionsFromPath,
  type CompiledDefinition,
  type DefinitionKind,
  type DefinitionStore,
  type StoredDefinition,
} from '@kairos/definitions';
import { erase } from './erase';
import { explainCall, profileCall, simulateCall, trackCall, withStore } from './clients';
import { parse } from './args';
import { EXIT, failed, usageError } from './errors';
import { readUtf8File, table, type Io } from './io';
import { lineDiff } from './diff';
import { parseEventLine } from './event-line';
import { traceReport } from './trace';

export type Command = (args: string[], io: Io) => Promise<number>;

function requireFile(command: string, file: string | undefined): string {
  if (!file) throw usageError(`${command}: missing -f <file|dir> (the definitions to ${command})`);
  return file;
}

/** Loads and validates definitions; prints every error and throws (exit 1) when any. */
async function loadValid(path: string, io: Io): Promise<CompiledDefinition[]> {
  const result = await loadDefinitionsFromPath(path, { unknownTriggers: 'allow' });
  if (result.errors.length) {
    for (const e of result.errors) io.err(formatError(e));
    throw failed(`${result.errors.length} error(s) in ${path}`);
  }
  return result.documents;
}

const KINDS: Record<string, DefinitionKind> = {
  trigger: 'Trigger',
  triggers: 'Trigger',
  workflow: 'Workflow',
  workflows: 'Workflow',
};

function kindOf(command: string, word: string | undefined, required: boolean): DefinitionKind | undefined {
  if (word === undefined) {
    if (required) throw usageError(`${command}: missing <kind> (trigger or workflow)`);
    return undefined;
  }
  const kind = KINDS[word.toLowerCase()];
  if (!kind) throw usageError(`${command}: unknown kind '${word}' (expected trigger or workflow)`);
  return kind;
}

/** The `<kind> <name>` arguments of a command on one stored definition (history, delete). */
function kindAndName(command: string, args: string[]): { kind: DefinitionKind; name: string } {
  const { positionals } = parse(command, args, {}, 2);
  const kind = kindOf(command, positionals[0], true)!;
  const name = positionals[1];
  if (!name) throw usageError(`${command}: missing <name> (${command} ${kind.toLowerCase()} <name>)`);
  return { kind, name };
}

const ref = (kind: DefinitionKind, name: string) => `${kind.toLowerCase()}/${name}`;
const day = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

// ------------------------------------------------------------------------------------------ commands

export const validate: Command = async (args, io) => {
  const { values } = parse('validate', args, { file: { type: 'string', short: 'f' } });
  const file = requireFile('validate', values.file);
  const result = await loadDefinitionsFromPath(file);
  if (result.errors.length) {
    for (const e of result.errors) io.err(formatError(e));
    io.err(`${result.errors.length} error(s)`);
    return EXIT.failed;
  }
  io.out(`${result.documents.length} documents valid`);
  return EXIT.ok;
};

export const apply: Command = async (args, io) => {
  const { values } = parse('apply', args, { file: { type: 'string', short: 'f' } });
  const docs = await loadValid(requireFile('apply', values.file), io);
  return withStore(io, async (store) => {
    let results;
    try {
      results = await store.apply(docs);
    } catch (err) {
      if (err instanceof DefinitionValidationError) {
        for (const e of err.errors) io.err(formatError(e));
        return EXIT.failed;
      }
      throw failed(`apply failed: ${(err as Error).message}`);
    }
    for (const r of results) io.out(`${ref(r.kind, r.name)} ${r.action} (v${r.version})`);
    return EXIT.ok;
  });
};

export const diff: Command = async (args, io) => {
  const { values } = parse('diff', args, { file: { type: 'string', short: 'f' } });
  const docs = await loadValid(requireFile('diff', values.file), io);
  return withStore(io, async (store) => {
    let changes = 0;
    for (const d of docs) {
      const stored = await store.get(d.kind, d.name);
      const next = stringify(d.document).split('\n');
      if (!stored) {
        changes++;
        io.out(`+ ${ref(d.kind, d.name)} would be created (v1)`);
        for (const l of next) if (l) io.out(`  + ${l}`);
        continue;
      }
      const prev = stringify(stored.document).split('\n');
      const lines = lineDiff(prev, next);
      if (lines.every((l) => l.op === ' ')) {
        io.out(`= ${ref(d.kind, d.name)} unchanged (v${stored.version})`);
        continue;
      }
      changes++;
      io.out(`~ ${ref(d.kind, d.name)} would be updated (v${stored.version} → v${stored.version + 1})`);
      for (const l of lines) if (l.op !== ' ' && l.text) io.out(`  ${l.op} ${l.text}`);
    }
    io.out(changes ? `${changes} definition(s) would change` : 'no changes');
    return EXIT.ok;
  });
};

function printStored(io: Io, defs: StoredDefinition[], output: string): void {
  if (output === 'yaml') {
    io.out(defs.map((d) => stringify(d.document).trimEnd()).join('\n---\n'));
  } else if (output === 'json') {
    io.out(JSON.stringify(defs.length === 1 ? defs[0] : defs, null, 2));
  } else {
    for (const l of table(
      ['KIND', 'NAME', 'VERSION', 'UPDATED'],
      defs.map((d) => [d.kind, d.name, String(d.version), day(d.updatedAt)]),
    ))
      io.out(l);
  }
}

export const get: Command = async (args, io) => {
  const { values, positionals } = parse('get', args, { output: { type: 'string', short: 'o' } }, 2);
  const output = values.output ?? 'table';
  if (!['table', 'yaml', 'json'].includes(output)) {
    throw usageError(`get: unknown output '${output}' (expected table, yaml or json)`);
  }
  const kind = kindOf('get', positionals[0], false);
  const name = positionals[1];
  return withStore(io, async (store: DefinitionStore) => {
    if (kind && name) {
      const d = await store.get(kind, name);
      if (!d) throw failed(`${ref(kind, name)} not found`);
      printStored(io, [d], output);
    } else {
      const defs = await store.list(kind);
      if (defs.length === 0 && output === 'table') io.out('no definitions');
      else printStored(io, defs, output);
    }
    return EXIT.ok;
  });
};

export const history: Command = async (args, io) => {
  const { kind, name } = kindAndName('history', args);
  return withStore(io, async (store) => {
    const entries = await store.history(kind, name);
    if (entries.length === 0) throw failed(`${ref(kind, name)} has no history`);
    const rows = entries.map((e) => [
      String(e.revision),
      e.operation === 'put' ? `v${e.version}` : '-',
      e.operation === 'put' ? 'applied' : 'deleted',
      day(e.updatedAt),
    ]);
    for (const l of table(['REVISION', 'VERSION', 'OPERATION', 'AT'], rows)) io.out(l);
    return EXIT.ok;
  });
};

export const del: Command = async (args, io) => {
  const { kind, name } = kindAndName('delete', args);
  return withStore(io, async (store) => {
    if (!(await store.delete(kind, name))) throw failed(`${ref(kind, name)} not found`);
    io.out(`${ref(kind, name)} deleted`);
    return EXIT.ok;
  });
};

const SINCE = /^(\d+)(s|m|h|d)$/;
const UNIT: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const simulate: Command = async (args, io) => {
  const { values } = parse('simulate', args, {
    file: { type: 'string', short: 'f' },
    events: { type: 'string' },
    since: { type: 'string' },
    customer: { type: 'string', multiple: true },
  });
  const file = values.file;
  if (!file) throw usageError('simulate: missing -f <trigger.yaml> (the draft trigger to run)');
  if (!values.events === !values.since) {
    throw usageError(
      'simulate: give exactly one of --events <events.ndjson> or --since <duration, e.g. 24h>',
    );
  }
  const yaml = await readUtf8File(file);
  const req = {
    definitionYaml: yaml,
    events: [] as events.EnrichedEvent[],
    customerIds: values.customer ?? [],
  } as {
    definitionYaml: string;
    events: events.EnrichedEvent[];
    customerIds: string[];
    from?: Date;
    to?: Date;
  };
  if (values.events) {
    const text = await readUtf8File(values.events);
    text.split('\n').forEach((line, i) => {
      if (line.trim()) req.events.push(parseEventLine(line, i + 1, values.events!));
    });
    if (req.events.length === 0) throw failed(`${values.events}: no events`);
  } else {
    const m = SINCE.exec(values.since!);
    if (!m)
      throw usageError(`simulate: --since expects a duration like 30m, 24h or 7d, got '${values.since}'`);
    req.to = new Date(io.now());
    req.from = new Date(io.now() - Number(m[1]) * UNIT[m[2]]);
  }
  const res = await simulateCall(io, req);
  for (const f of res.fired) {
    io.out(`${f.firedAt?.toISOString() ?? '?'}  ${f.customerId}  ${f.trigger}`);
    io.out(`    ${f.explanation}`);
  }
  io.out(`${res.fired.length} fired over ${res.eventsScanned} events from ${res.customers} customers`);
  return EXIT.ok;
};

export const explain: Command = async (args, io) => {
  const { positionals } = parse('explain', args, {}, 2);
  const [trigger, customer] = positionals;
  if (!trigger || !customer) throw usageError('explain: expected <trigger> <customer>');
  const res = await explainCall(io, { trigger, customerId: customer });
  io.out(res.summary);
  if (res.steps.length) {
    for (const l of table(
      ['STEP', 'STATE', 'DETAIL'],
      res.steps.map((s) => [s.step, s.state, s.detail]),
    ))
      io.out(l);
  }
  if (res.lastFiredAt) io.out(`last fired: ${res.lastFiredAt.toISOString()}`);
  if (res.cooldownUntil) io.out(`cooldown until: ${res.cooldownUntil.toISOString()}`);
  return EXIT.ok;
};

/** `k=v`: numbers, booleans and null as JSON, everything else as a string. */
export function parseProp(arg: string): [string, unknown] {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw usageError(`send: --prop expects key=value, got '${arg}'`);
  const key = arg.slice(0, eq);
  const raw = arg.slice(eq + 1);
  if (/^(-?\d+(\.\d+)?|true|false|null)$/.test(raw)) return [key, JSON.parse(raw)];
  return [key, raw];
}

const CATEGORIES: Record<string, events.EventCategory> = {
  customer_action: events.EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
  system: events.EventCategory.EVENT_CATEGORY_SYSTEM,
  time_based: events.EventCategory.EVENT_CATEGORY_TIME_BASED,
  external: events.EventCategory.EVENT_CATEGORY_EXTERNAL,
  predicted: events.EventCategory.EVENT_CATEGORY_PREDICTED,
};

export const send: Command = async (args, io) => {
  const { values } = parse('send', args, {
    type: { type: 'string' },
    customer: { type: 'string' },
    prop: { type: 'string', multiple: true },
    id: { type: 'string' },
    category: { type: 'string' },
  });
  if (!values.type) throw usageError('send: missing --type <event type>, e.g. --type cart.item_added');
  if (!values.customer) throw usageError('send: missing --customer <customer id>');
  const category = values.category ?? 'customer_action';
  if (!(category in CATEGORIES)) {
    throw usageError(
      `send: unknown --category '${category}' (expected ${Object.keys(CATEGORIES).join(', ')})`,
    );
  }
  const properties = Object.fromEntries((values.prop ?? []).map(parseProp));
  const res = await trackCall(io, {
    event: events.Event.fromPartial({
      id: values.id ?? '',
      type: values.type,
      customerId: values.customer,
      category: CATEGORIES[category],
      occurredAt: new Date(io.now()),
      properties,
      source: 'kairosctl',
    }),
  });
  const r = res.result;
  const outcome = r
    ? ingest.eventOutcomeToJSON(r.outcome).replace('EVENT_OUTCOME_', '').toLowerCase()
    : 'unknown';
  if (r?.outcome === ingest.EventOutcome.EVENT_OUTCOME_REJECTED) {
    throw failed(`event rejected: ${r.message} (code ${r.code})`);
  }
  io.out(`${r?.eventId ?? ''} ${outcome}${r?.rule ? ` (rule ${r.rule})` : ''}`);
  return EXIT.ok;
};

export const profile: Command = async (args, io) => {
  // `profile erase <customer> ...`; `profile erase` alone shows the customer named "erase".
  if (args[0] === 'erase' && args.length > 1) return erase(args.slice(1), io);
  const { positionals } = parse('profile', args, {}, 1);
  if (!positionals[0]) throw usageError('profile: expected <customer>');
  const res = await profileCall(io, positionals[0]);
  if (!res.profile) throw failed(`no profile for customer '${positionals[0]}'`);
  io.out(JSON.stringify(profiles.Profile.toJSON(res.profile), null, 2));
  return EXIT.ok;
};

export const trace: Command = (args, io) => {
  const { positionals, values } = parse('trace', args, { since: { type: 'string', default: '24h' } }, 1);
  if (!positionals[0]) throw usageError('trace: expected <action-id|event-id>');
  return traceReport(io, positionals[0], values.since);
};
