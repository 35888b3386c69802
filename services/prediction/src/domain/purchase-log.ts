/**
 * The check on a real purchase log: the engine is trained and scored through the path `kairosctl
 * predict --events` runs (`parseEventRecord`, then `predictOffline`) on the log up to a calibration
 * end, and its purchase scores are ranked against what the customers bought in the `horizonDays`
 * after it, beside the two buy-till-you-die yardsticks: the engine's BG/NBD baseline and a
 * Pareto/NBD fitted on the calibration period. Pure: the caller reads the log.
 */
import { DAY_MS, eventKind, type FeatureEvent } from './features';
import { auc } from './metrics';
import { predictOffline, parseEventRecord } from './offline';
import { fitParetoNbd, paretoExpectedPurchases, type ParetoNbdParams } from './pareto-nbd';
import type { RfmPoint } from './bgnbd';

/** One purchase: a customer, a time (epoch ms) and its value. */
export interface Purchase {
  customerId: string;
  at: number;
  revenue: number;
}

/** The purchases as `kairosctl predict --events` NDJSON records (`order.completed` lines). */
export function purchaseRecords(purchases: readonly Purchase[]): Array<Record<string, unknown>> {
  return purchases.map((p) => ({
    customerId: p.customerId,
    type: 'order.completed',
    occurredAt: new Date(p.at).toISOString(),
    properties: { revenue: p.revenue },
  }));
}

/**
 * The Pareto/NBD summary (x, t_x, T in days) of each customer's purchases up to `asOf`, with the
 * first purchase as birth (it does not count in x), as in Schmittlein et al. and the BG/NBD paper.
 * Only orders count; each order is one purchase (aggregate same-day lines first, as the papers do).
 */
export function purchaseSummaries(events: readonly FeatureEvent[], asOf: number): Map<string, RfmPoint> {
  const seen = new Map<string, { first: number; last: number; n: number }>();
  for (const e of events) {
    if (e.at > asOf || eventKind(e.type, e.category) !== 'order') continue;
    const c = seen.get(e.customerId);
    if (!c) seen.set(e.customerId, { first: e.at, last: e.at, n: 1 });
    else {
      c.first = Math.min(c.first, e.at);
      c.last = Math.max(c.last, e.at);
      c.n++;
    }
  }
  const out = new Map<string, RfmPoint>();
  for (const [id, c] of seen)
    out.set(id, {
      x: c.n - 1,
      tx: c.n > 1 ? (c.last - c.first) / DAY_MS : 0,
      T: (asOf - c.first) / DAY_MS,
    });
  return out;
}

export interface PurchaseLogCheck {
  horizonDays: number;
  customers: number;
  /** Customers who bought within the horizon. */
  buyers: number;
  /** Purchase labels the engine learnt from before `asOf`. */
  trainingLabels: number;
  /** Whether the engine was still in its cold start (its purchase score then is BG/NBD's). */
  coldStart: boolean;
  purchaseAuc: number;
  bgnbdAuc: number;
  paretoNbdAuc: number;
  paretoNbd: ParetoNbdParams;
}

/**
 * Scores every customer of the log as of `asOf` and returns the AUC of the engine's purchase
 * score, of BG/NBD's and of Pareto/NBD's expected purchases in (asOf, asOf + horizon] against
 * "bought in that window". Records later than `asOf` are only read for the labels.
 */
export function checkPurchaseLog(
  records: readonly unknown[],
  o: { asOf: number; horizonDays: number; churnDays?: number },
): PurchaseLogCheck {
  const events: FeatureEvent[] = [];
  for (const [i, r] of records.entries()) {
    const e = parseEventRecord(r);
    if (typeof e === 'string') throw new Error(`record ${i + 1}: ${e}`);
    events.push(e);
  }
  const result = predictOffline(events, { asOf: o.asOf, horizonDays: o.horizonDays, churnDays: o.churnDays });
  const end = o.asOf + o.horizonDays * DAY_MS;
  const bought = new Set(events.filter((e) => e.at > o.asOf && e.at <= end).map((e) => e.customerId));
  const summaries = purchaseSummaries(events, o.asOf);
  const paretoNbd = fitParetoNbd([...summaries.values()]);
  const rows = result.rows.filter((r) => r.model === 'purchase');
  const labels = rows.map((r) => (bought.has(r.customerId) ? 1 : 0));
  return {
    horizonDays: o.horizonDays,
    customers: rows.length,
    buyers: labels.filter((y) => y === 1).length,
    trainingLabels: result.examples.purchase,
    coldStart: rows.some((r) => r.coldStart),
    purchaseAuc: auc(
      rows.map((r) => r.score),
      labels,
    ),
    bgnbdAuc: auc(
      rows.map((r) => r.baseline),
      labels,
    ),
    paretoNbdAuc: auc(
      rows.map((r) => paretoExpectedPurchases(paretoNbd, summaries.get(r.customerId)!, o.horizonDays)),
      labels,
    ),
    paretoNbd,
  };
}
