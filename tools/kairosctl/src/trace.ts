import type { NatsConnection } from '@nats-io/nats-core';
import {
  actions,
  filters,
  OUTCOME_TOKEN,
  SCHEMAS,
  STREAMS,
  triggers,
  type analytics,
  type Schema,
} from '@kairos/contracts';
import { parseDuration } from '@kairos/definitions';
import { scanStream } from '@kairos/messaging';
import { analyticsCall, withNats } from './clients';
import { adminToken } from './credentials';
import { EXIT, failed, usageError } from './errors';
import { table, type Io } from './io';

/** What the orchestration service answers at GET /runs/<id> (the fields this report prints). */
interface RunView {
  runId: string;
  workflow: string;
  state: string;
  reason?: string;
  timingVariant?: string;
  contentVariant?: string;
  history?: Array<{ at: string; step?: string; event: string; detail?: string; actionId?: string }>;
}

/** A kind of message the trace reads: where it is stored and how it decodes. */
interface Source<T> {
  stream: string;
  filter: string;
  schema: Schema<T>;
}

const FIRED: Source<triggers.TriggerFired> = {
  stream: STREAMS.TRIGGERS.name,
  filter: filters.allFired,
  schema: SCHEMAS.TriggerFired,
};
const REQUESTED: Source<actions.ActionRequested> = {
  stream: STREAMS.ACTIONS.name,
  filter: filters.allRequested,
  schema: SCHEMAS.ActionRequested,
};
const OUTCOMES: Source<actions.ActionOutcome> = {
  stream: STREAMS.ACTIONS.name,
  filter: filters.allOutcomes,
  schema: SCHEMAS.ActionOutcome,
};

/** The messages of `source` stored since `sinceMs` that `keep` accepts. */
async function find<T>(
  nc: NatsConnection,
  source: Source<T>,
  sinceMs: number,
  keep: (item: T) => boolean,
): Promise<T[]> {
  const found: T[] = [];
  for await (const m of scanStream(nc, { stream: source.stream, filter: source.filter, sinceMs })) {
    const item = source.schema.type.decode(m.data);
    if (keep(item)) found.push(item);
  }
  return found;
}

async function fetchRun(io: Io, runId: string): Promise<RunView | string> {
  const base = io.env.KAIROS_ORCHESTRATION_URL || 'http://127.0.0.1:8084';
  try {
    const token = adminToken(io);
    const res = await fetch(`${base}/runs/${encodeURIComponent(runId)}`, {
      signal: AbortSignal.timeout(3_000),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    if (!res.ok) return `orchestration answered ${res.status} for run ${runId}`;
    return (await res.json()) as RunView;
  } catch (err) {
    return `orchestration unreachable at ${base} (set KAIROS_ORCHESTRATION_URL): ${(err as Error).message}`;
  }
}

const iso = (d?: Date) => (d ? d.toISOString() : '-');

function printFired(io: Io, fired: triggers.TriggerFired): void {
  io.out(
    `Trigger   ${fired.trigger} v${fired.triggerVersion} fired ${iso(fired.firedAt)} (priority ${fired.priority})`,
  );
  io.out(`  why     ${fired.explanation}`);
  for (const line of table(
    ['step', 'alias', 'event', 'type', 'at'],
    fired.matched.map((m) => [m.step, m.alias || '-', m.eventId || '-', m.type, iso(m.occurredAt)]),
  )) {
    io.out(`  ${line}`);
  }
}

async function printAction(
  io: Io,
  nc: NatsConnection,
  action: actions.ActionRequested,
  sinceMs: number,
): Promise<void> {
  io.out(`Action    ${action.actionId} for customer ${action.customerId}`);
  io.out(
    `  channels ${action.channels.join(' → ')}, template ${action.template} (variant ${action.contentVariant || '-'})`,
  );
  io.out(`  requested ${iso(action.requestedAt)}${action.escalation ? ' (escalation to a human)' : ''}`);
  const [fired] = await find(nc, FIRED, sinceMs, (f) => f.id === action.triggerId);
  if (fired) printFired(io, fired);
  else
    io.out(`Trigger   ${action.trigger} (fire ${action.triggerId} not found since the start of the window)`);

  const run = await fetchRun(io, action.runId);
  if (typeof run === 'string') {
    io.out(`Run       ${action.runId}: ${run}`);
  } else {
    const variants = [
      run.timingVariant && `timing ${run.timingVariant}`,
      run.contentVariant && `content ${run.contentVariant}`,
    ];
    io.out(
      `Run       ${run.runId} of workflow ${run.workflow}: ${run.state}${run.reason ? ` (${run.reason})` : ''}`,
    );
    if (variants.some(Boolean)) io.out(`  variants ${variants.filter(Boolean).join(', ')}`);
    for (const line of table(
      ['at', 'step', 'event', 'detail'],
      (run.history ?? []).map((h) => [h.at, h.step ?? '-', h.event, h.detail ?? '']),
    )) {
      io.out(`  ${line}`);
    }
  }

  const outcomes = await find(nc, OUTCOMES, sinceMs, (o) => o.actionId === action.actionId);
  io.out('Delivery');
  if (!outcomes.length) io.out('  no outcome yet');
  for (const line of table(
    ['at', 'status', 'channel', 'reason'],
    outcomes.map((o) => [iso(o.at), OUTCOME_TOKEN[o.status], o.channel || '-', o.reason || '']),
  )) {
    io.out(`  ${line}`);
  }
  if (outcomes.some((o) => o.status === actions.OutcomeStatus.OUTCOME_STATUS_UNKNOWN)) {
    io.out(
      '  unknown: the send was interrupted and not resent (at-most-once channel); the customer may or may not have the message',
    );
  }
  await printAttribution(io, action.actionId);
}

/** The analytics service's credits for an action or a conversion, or why it cannot answer. */
async function credits(io: Io, id: string): Promise<analytics.AttributionReport | string> {
  try {
    const res = await analyticsCall<analytics.TraceAttributionRequest, analytics.TraceAttributionResponse>(
      io,
      'traceAttribution',
      { id, attributionModel: '' },
      5_000,
    );
    return res.report ?? 'analytics answered without a report';
  } catch (err) {
    return (err as Error).message;
  }
}

function creditLines(io: Io, r: analytics.AttributionReport): void {
  for (const line of table(
    ['conversion', 'converted', 'action', 'run', 'trigger (fire)', 'workflow', 'weight', 'value'],
    r.credits.map((c) => [
      c.conversionId,
      iso(c.convertedAt),
      c.actionId,
      c.runId,
      `${c.trigger} (${c.triggerId || '-'})`,
      c.workflow,
      String(c.weight),
      String(c.value),
    ]),
  )) {
    io.out(`  ${line}`);
  }
}

/** What the message earned: the conversions credited to it (last touch). */
async function printAttribution(io: Io, actionId: string): Promise<void> {
  const r = await credits(io, actionId);
  io.out('Attribution (last touch)');
  if (typeof r === 'string') return io.out(`  ${r}`);
  if (r.credits.length === 0) return io.out('  no conversion credited to this message (yet)');
  creditLines(io, r);
}

/**
 * `kairosctl trace <action-id|event-id> [--since 24h]`: why did this customer get this message? The
 * action, the trigger that caused it with its explanation and matched events, the workflow run
 * (arbitration, waits, variants) and the delivery outcomes; for an event id, that chain for every
 * action the event led to.
 */
export async function traceReport(io: Io, id: string, since = '24h'): Promise<number> {
  const window = parseDuration(since);
  if (window === undefined) throw usageError(`trace: --since expects a duration like 24h, got '${since}'`);
  const sinceMs = io.now() - window;
  return withNats(io, async (nc) => {
    const requested = (keep: (a: actions.ActionRequested) => boolean) => find(nc, REQUESTED, sinceMs, keep);
    const direct = await requested((a) => a.actionId === id);
    if (direct.length) {
      await printAction(io, nc, direct[0], sinceMs);
      return EXIT.ok;
    }
    const fires = await find(nc, FIRED, sinceMs, (f) => f.matched.some((m) => m.eventId === id));
    if (!fires.length) {
      // A conversion event: the message, run and trigger it is credited to.
      const r = await credits(io, id);
      if (typeof r !== 'string' && r.conversions > 0) {
        io.out(`Conversion ${id} (last touch):`);
        if (r.credits.length === 0)
          io.out('  credited to no message (no send of a workflow counting it, within its window)');
        creditLines(io, r);
        return EXIT.ok;
      }
      throw failed(`no action, fired trigger or conversion involves '${id}' in the last ${since}`);
    }
    const fireIds = new Set(fires.map((f) => f.id));
    const caused = await requested((a) => fireIds.has(a.triggerId));
    io.out(
      `Event ${id} took part in ${fires.length} fired trigger(s) and led to ${caused.length} action(s).`,
    );
    for (const f of fires.filter((f) => !caused.some((a) => a.triggerId === f.id))) {
      io.out('');
      printFired(io, f);
      io.out('  no action requested (held out, suppressed, not matching a workflow, or still waiting)');
    }
    for (const action of caused) {
      io.out('');
      await printAction(io, nc, action, sinceMs);
    }
    return EXIT.ok;
  });
}
