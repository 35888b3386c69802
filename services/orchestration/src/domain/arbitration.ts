/** A run taking part in a settle window. */
export interface ArbitrationCandidate {
  runId: string;
  workflow: string;
  priority: number;
  /** Event time of the firing, epoch ms. */
  firedAt: number;
  /** Transactional runs take part (they can beat marketing runs) but are never suppressed. */
  transactional: boolean;
}

export interface ArbitrationResult {
  /** The marketing-eligible winner (undefined when no candidate). */
  winner?: ArbitrationCandidate;
  /** Runs that go ahead: the winner and every transactional run. */
  proceed: ArbitrationCandidate[];
  /** Runs suppressed, each with `lost_arbitration_to:<winner workflow>`. */
  suppressed: { candidate: ArbitrationCandidate; reason: string }[];
}

/** Highest priority first; ties: earlier firing, then workflow name, then run id (total order). */
export function compareCandidates(a: ArbitrationCandidate, b: ArbitrationCandidate): number {
  return (
    b.priority - a.priority ||
    a.firedAt - b.firedAt ||
    a.workflow.localeCompare(b.workflow) ||
    a.runId.localeCompare(b.runId)
  );
}

/**
 * Settles a window: one message per customer moment. The best candidate wins; other marketing runs
 * lose to it; transactional runs always proceed (they are service messages, not competing ones).
 */
export function arbitrate(candidates: readonly ArbitrationCandidate[]): ArbitrationResult {
  const ranked = [...candidates].sort(compareCandidates);
  const winner = ranked[0];
  if (!winner) return { proceed: [], suppressed: [] };
  const proceed: ArbitrationCandidate[] = [];
  const suppressed: ArbitrationResult['suppressed'] = [];
  for (const c of ranked) {
    if (c === winner || c.transactional) proceed.push(c);
    else suppressed.push({ candidate: c, reason: `lost_arbitration_to:${winner.workflow}` });
  }
  return { winner, proceed, suppressed };
}
