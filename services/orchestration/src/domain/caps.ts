/** One message counted against caps (from ProfileService history or the local send ledger). */
export interface SentRecord {
  actionId: string;
  workflow: string;
  at: number;
  transactional: boolean;
}

export interface FrequencyCap {
  max: number;
  perMs: number;
}

/** `5/24h`, `3/1d`, `10/30m` -> cap; undefined when malformed. */
export function parseGlobalCap(text: string): FrequencyCap | undefined {
  const m = /^(\d+)\/(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const perMs = Number(m[2]) * unit[m[3]];
  return perMs > 0 ? { max: Number(m[1]), perMs } : undefined;
}

export interface CapCheck {
  nowMs: number;
  workflow: string;
  /** The action about to be sent; a record with this id is the same send retried and never counts. */
  actionId: string;
  transactional: boolean;
  global?: FrequencyCap;
  perWorkflow?: FrequencyCap;
  /** Sends from ProfileService history (undefined when unknown) and from the local ledger. */
  history?: readonly SentRecord[];
  ledger: readonly SentRecord[];
}

export type CapDecision =
  { allowed: true } | { allowed: false; scope: 'global' | 'workflow'; count: number; max: number };

/** Union of both sources, de-duplicated by action id (the same send is in both once recorded). */
export function mergeSends(
  history: readonly SentRecord[] | undefined,
  ledger: readonly SentRecord[],
): SentRecord[] {
  const byId = new Map<string, SentRecord>();
  for (const r of [...(history ?? []), ...ledger]) if (!byId.has(r.actionId)) byId.set(r.actionId, r);
  return [...byId.values()];
}

/**
 * Marketing frequency caps: transactional sends are exempt and do not count. The global cap counts
 * every marketing send in its window; the workflow cap counts that workflow's sends.
 */
export function checkCaps(c: CapCheck): CapDecision {
  if (c.transactional) return { allowed: true };
  const sends = mergeSends(c.history, c.ledger).filter((r) => !r.transactional && r.actionId !== c.actionId);
  const within = (cap: FrequencyCap, r: SentRecord) => r.at > c.nowMs - cap.perMs && r.at <= c.nowMs;
  if (c.global) {
    const cap = c.global;
    const count = sends.filter((r) => within(cap, r)).length;
    if (count >= cap.max) return { allowed: false, scope: 'global', count, max: cap.max };
  }
  if (c.perWorkflow) {
    const cap = c.perWorkflow;
    const count = sends.filter((r) => r.workflow === c.workflow && within(cap, r)).length;
    if (count >= cap.max) return { allowed: false, scope: 'workflow', count, max: cap.max };
  }
  return { allowed: true };
}
