/** Explain: why a trigger fired or did not fire for a customer, as of the current watermark. */
import type {
  ConditionFailure,
  Explanation,
  MatchedStep,
  PartialMatchExplanation,
  WaitingStep,
} from '../types';
import type { Cursor, EngineCore } from './core';
import { makeRuns } from './deferral';
import { Defer, N, R, S } from './layout';
import { collect, waiting } from './matched';
import { iso } from './time-format';
import { stateOf } from './trigger-states';

/** Why `trigger` fired or did not fire for `customerId`, as of the current watermark. */
export function explain(core: EngineCore, cur: Cursor, trigger: string, customerId: string): Explanation {
  const slot = core.slots.find((s) => s.compiled.spec.name === trigger);
  const base = {
    trigger,
    customerId,
    watermark: core.watermark,
    partialMatches: [],
    conditionFailures: [],
  };
  if (slot === undefined) {
    return { ...base, status: 'unknown-trigger', summary: `No trigger named '${trigger}' is loaded.` };
  }
  const t = slot.compiled;
  const spec = t.spec;
  const row = core.customers.rows.get(customerId);
  if (slot.defer !== Defer.NONE && row !== undefined) makeRuns(core, cur, slot, row, core.watermark);
  const st = stateOf(core, slot, customerId);
  const partialMatches: PartialMatchExplanation[] = [];
  const conditionFailures: ConditionFailure[] = [];
  const ex: Explanation = {
    ...base,
    version: spec.version,
    status: 'idle',
    partialMatches,
    conditionFailures,
    summary: '',
  };
  const lines: string[] = [];
  if (st >= 0) {
    const a = slot.arena;
    const T = slot.states;
    for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r)) {
      const matchedSoFar: MatchedStep[] = [];
      collect(t, a, r, 0, matchedSoFar, false);
      const waitingFor: WaitingStep[] = [];
      waiting(t, a, r, 0, waitingFor);
      const n = a.numsOf(r);
      const base = a.at(r);
      const pm: PartialMatchExplanation = { startedAt: n[base + N.START], matchedSoFar, waitingFor };
      const expiry = n[base + R.EXPIRY];
      if (expiry !== Infinity) pm.expiresAfter = expiry;
      partialMatches.push(pm);
    }
    for (const [k, f] of T.failuresOf(st)) {
      const node = t.nodes[k];
      const cf: ConditionFailure = {
        path: node.path,
        condition: node.where?.source ?? '',
        eventId: f.eventId,
        eventTime: f.eventTime,
      };
      if (f.error !== undefined) cf.error = f.error;
      conditionFailures.push(cf);
    }
    const lastFiredAt = T.lastFiredAt(st);
    if (lastFiredAt !== undefined) {
      ex.lastFiredAt = lastFiredAt;
      if (spec.cooldownMs > 0) ex.cooldownUntil = lastFiredAt + spec.cooldownMs;
    }
    const suppressed = T.suppressed.get(st);
    if (suppressed !== undefined) ex.lastSuppressed = suppressed;
  }
  const cooldownActive = ex.cooldownUntil !== undefined && core.watermark < ex.cooldownUntil;
  if (cooldownActive) ex.status = 'cooldown';
  else if (partialMatches.length > 0) ex.status = 'waiting';
  lines.push(
    `Trigger '${trigger}' v${spec.version} for customer ${customerId} (watermark ${iso(core.watermark)}):`,
  );
  if (ex.lastFiredAt !== undefined) lines.push(`last fired at ${iso(ex.lastFiredAt)}.`);
  else lines.push('has not fired.');
  if (cooldownActive) lines.push(`Cooldown active until ${iso(ex.cooldownUntil as number)}.`);
  if (ex.lastSuppressed !== undefined)
    lines.push(`A match completed at ${iso(ex.lastSuppressed.at)} was suppressed by the cooldown.`);
  if (partialMatches.length === 0) lines.push('No partial match is in progress.');
  partialMatches.forEach((pm, k) => {
    const waits = pm.waitingFor
      .map((w) =>
        w.kind === 'absent'
          ? `${w.path}: no ${w.type} until ${iso(w.deadline as number)}`
          : w.kind === 'count'
            ? `${w.path}: ${w.counted}/${w.atLeast} ${w.type}`
            : `${w.path}: ${w.type}${w.condition !== undefined ? ` where ${w.condition}` : ''}`,
      )
      .join('; ');
    const got = pm.matchedSoFar.map((m) => `${m.path}=${m.event?.id ?? m.kind}`).join(', ');
    lines.push(`Partial match ${k + 1} started ${iso(pm.startedAt)} (matched ${got}) waits for ${waits}.`);
  });
  for (const f of conditionFailures) {
    lines.push(
      `Last condition failure at ${f.path}: '${f.condition}' was ${f.error !== undefined ? `an error (${f.error})` : 'false'} for event ${f.eventId} at ${iso(f.eventTime)}.`,
    );
  }
  ex.summary = lines.join(' ');
  return ex;
}
