import { actions, SCHEMAS, STREAMS } from '@kairos/contracts';
import { scanStream, type NatsConnection } from '@kairos/messaging';
import { runIdFor } from '@kairos/orchestration';

/** An event ingest accepted during the run (the load generator's ledger of what must not be lost). */
export interface AcceptedEvent {
  id: string;
  type: string;
  customerId: string;
  acceptedAt: number;
  /** Sent in the overload burst: its lateness measures capacity, not recovery, and is counted apart. */
  burst: boolean;
}

/** A time span in which a part of the mesh was down, stopped or paused. */
export interface Window {
  startedAt: number;
  endedAt: number;
}

/** A message the SMTP peer received, with the action id from its `Message-ID: <actionId@kairos>`. */
export interface ReceivedEmail {
  actionId: string;
  to: string;
  receivedAt: number;
}

/** A chaos trigger: it fires once for every accepted event of `eventType`, and its workflow emails. */
export interface ChaosTrigger {
  trigger: string;
  eventType: string;
  workflow: string;
  /** The workflow's wait before its send: the message is due this long after the event. */
  waitMs: number;
}

/** The counts the suite prints; every one but the informational ones must be zero. */
export interface ChaosCounts {
  accepted: number;
  eventsLost: number;
  firingsExpected: number;
  triggersNotFired: number;
  triggersFiredTwice: number;
  messagesDue: number;
  dueNotSent: number;
  customersMessagedTwice: number;
  /** Informational: the same Message-ID received again (a resend after a crash mid-send, which a relay de-duplicates). */
  resentSameMessageId: number;
  /** Informational: messages the SMTP peer received. */
  emailsReceived: number;
  /** Informational: firings whose run was suppressed because the customer was still in that workflow. */
  suppressedReentry: number;
  deadLetters: number;
  maxLatenessMs: number;
  /**
   * The largest lateness of a steady-load message minus the outages overlapping the span from its
   * due time to its arrival: what recovery itself added (redelivery, catch-up of the backlog).
   */
  maxLatenessBeyondOutagesMs: number;
  /** Informational: the largest lateness of a message for a burst event (the burst's backlog). */
  burstMaxLatenessMs: number;
}

/** How much of [from, to] the windows cover (overlapping windows counted once). */
export function coveredMs(windows: Window[], from: number, to: number): number {
  const spans = windows
    .map((w) => [Math.max(from, w.startedAt), Math.min(to, w.endedAt)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let reached = from;
  for (const [a, b] of spans) {
    if (b <= reached) continue;
    total += b - Math.max(a, reached);
    reached = b;
  }
  return total;
}

export interface AuditResult {
  counts: ChaosCounts;
  /** The first customer (in accept order) whose record differs from the ground truth, and how. */
  firstDivergent?: { customerId: string; problems: string[] };
}

/** Every message stored under `filter`, decoded, in stream order. */
async function readAll<T>(nc: NatsConnection, stream: string, filter: string, decode: (d: Uint8Array) => T) {
  const out: T[] = [];
  for await (const m of scanStream(nc, { stream, filter })) out.push(decode(m.data));
  return out;
}

/** How often each `Nats-Msg-Id` is stored under `filter` (headers only). */
async function msgIdCounts(nc: NatsConnection, stream: string, filter: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const m of scanStream(nc, { stream, filter, headersOnly: true })) {
    const id = m.headers?.get('Nats-Msg-Id') ?? '';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

async function streamCount(nc: NatsConnection, stream: string, filter: string): Promise<number> {
  let n = 0;
  for await (const _m of scanStream(nc, { stream, filter, headersOnly: true })) n++;
  return n;
}

/**
 * Compares what the mesh stored and sent with the ground truth: every accepted event is enriched;
 * every accepted event of a chaos trigger's type fires that trigger exactly once; each firing's run
 * emails its customer exactly once (one Message-ID), unless the customer was still inside the same
 * workflow (a documented suppression); and each message arrives at most `maxLatenessMs` after it
 * was due (the event's acceptance plus the workflow's wait).
 */
export async function auditRun(opts: {
  nc: NatsConnection;
  accepted: AcceptedEvent[];
  emails: ReceivedEmail[];
  triggers: ChaosTrigger[];
  outages: Window[];
}): Promise<AuditResult> {
  const { nc, accepted, emails, triggers, outages } = opts;
  const problems = new Map<string, string[]>();
  const note = (customerId: string, problem: string) => {
    const list = problems.get(customerId) ?? [];
    list.push(problem);
    problems.set(customerId, list);
  };

  const enriched = await msgIdCounts(nc, STREAMS.EVENTS.name, 'events.enriched.>');
  let eventsLost = 0;
  for (const e of accepted) {
    if (!enriched.has(`enriched:${e.id}`)) {
      eventsLost++;
      note(e.customerId, `event ${e.id} (${e.type}) accepted but never enriched`);
    }
  }

  const fired = await readAll(nc, STREAMS.TRIGGERS.name, 'triggers.fired.>', (d) =>
    SCHEMAS.TriggerFired.type.decode(d),
  );
  const firingsByKey = new Map<string, typeof fired>();
  for (const f of fired) {
    const key = `${f.trigger}|${f.completingEventId || f.matched[f.matched.length - 1]?.eventId}`;
    firingsByKey.set(key, [...(firingsByKey.get(key) ?? []), f]);
  }
  const requested = await readAll(nc, STREAMS.ACTIONS.name, 'actions.requested.>', (d) =>
    SCHEMAS.ActionRequested.type.decode(d),
  );
  const actionsByRun = new Map<string, Set<string>>();
  const recipientKinds = new Map<string, string>();
  for (const a of requested) {
    actionsByRun.set(a.runId, (actionsByRun.get(a.runId) ?? new Set()).add(a.actionId));
    recipientKinds.set(a.runId, Object.keys(a.recipient).join('+') || 'none');
  }
  const outcomes = await readAll(nc, STREAMS.ACTIONS.name, 'actions.outcome.>', (d) =>
    SCHEMAS.ActionOutcome.type.decode(d),
  );
  const suppressedRuns = new Map<string, string>();
  const outcomesByRun = new Map<string, string[]>();
  for (const o of outcomes) {
    if (o.status === actions.OutcomeStatus.OUTCOME_STATUS_SUPPRESSED) suppressedRuns.set(o.runId, o.reason);
    const status = actions.OutcomeStatus[o.status].replace('OUTCOME_STATUS_', '').toLowerCase();
    outcomesByRun.set(o.runId, [
      ...(outcomesByRun.get(o.runId) ?? []),
      `${status}${o.reason ? ` (${o.reason})` : ''}`,
    ]);
  }
  const emailsByAction = new Map<string, ReceivedEmail[]>();
  for (const m of emails) emailsByAction.set(m.actionId, [...(emailsByAction.get(m.actionId) ?? []), m]);

  const counts: ChaosCounts = {
    accepted: accepted.length,
    eventsLost,
    firingsExpected: 0,
    triggersNotFired: 0,
    triggersFiredTwice: 0,
    messagesDue: 0,
    dueNotSent: 0,
    customersMessagedTwice: 0,
    resentSameMessageId: 0,
    emailsReceived: emails.length,
    suppressedReentry: 0,
    deadLetters: await streamCount(nc, STREAMS.DLQ.name, '>'),
    maxLatenessMs: 0,
    maxLatenessBeyondOutagesMs: 0,
    burstMaxLatenessMs: 0,
  };
  for (const e of accepted) {
    for (const t of triggers.filter((tr) => tr.eventType === e.type)) {
      counts.firingsExpected++;
      const firings = firingsByKey.get(`${t.trigger}|${e.id}`) ?? [];
      if (firings.length === 0) {
        counts.triggersNotFired++;
        note(e.customerId, `${t.trigger} never fired for event ${e.id}`);
        continue;
      }
      if (firings.length > 1) {
        counts.triggersFiredTwice++;
        note(
          e.customerId,
          `${t.trigger} fired ${firings.length} times for ${e.id}: ${firings.map((f) => f.id).join(', ')}`,
        );
      }
      // Every firing of the key starts a run; a second one is counted above and its emails below.
      const runIds = firings.map((f) => runIdFor(f.id, t.workflow));
      const suppressed = suppressedRuns.get(runIds[0]);
      if (suppressed?.startsWith('already_in_workflow:')) {
        counts.suppressedReentry++;
        continue;
      }
      counts.messagesDue++;
      const received = runIds.flatMap((r) =>
        [...(actionsByRun.get(r) ?? [])].flatMap((a) => emailsByAction.get(a) ?? []),
      );
      if (received.length === 0) {
        counts.dueNotSent++;
        const seen = runIds.flatMap((r) => outcomesByRun.get(r) ?? []);
        const snapshot = firings[0].profile;
        note(
          e.customerId,
          `run ${runIds[0]} (${t.workflow}, event ${e.id}) sent no email; ` +
            `${actionsByRun.get(runIds[0])?.size ?? 0} action(s) requested (recipient: ${recipientKinds.get(runIds[0]) ?? '-'}), ` +
            `outcomes: ${seen.join(', ') || 'none'}; the firing's profile snapshot: ` +
            `${snapshot ? `email ${snapshot.contacts?.email ? 'set' : 'empty'}, ${snapshot.counters?.totalEvents ?? 0} events` : 'none'}`,
        );
        continue;
      }
      const distinct = new Set(received.map((m) => m.actionId));
      if (distinct.size > 1) {
        counts.customersMessagedTwice++;
        note(e.customerId, `event ${e.id} (${t.workflow}) emailed ${distinct.size} different messages`);
      }
      counts.resentSameMessageId += received.length - distinct.size;
      const first = Math.min(...received.map((m) => m.receivedAt));
      const due = e.acceptedAt + t.waitMs;
      if (e.burst) {
        counts.burstMaxLatenessMs = Math.max(counts.burstMaxLatenessMs, first - due);
      } else {
        counts.maxLatenessMs = Math.max(counts.maxLatenessMs, first - due);
        const beyond = first - due - coveredMs(outages, due, first);
        counts.maxLatenessBeyondOutagesMs = Math.max(counts.maxLatenessBeyondOutagesMs, beyond);
      }
    }
  }
  const order = accepted.map((e) => e.customerId).find((c) => problems.has(c));
  return {
    counts,
    ...(order ? { firstDivergent: { customerId: order, problems: problems.get(order)! } } : {}),
  };
}
