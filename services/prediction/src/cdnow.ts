/**
 * The CDNOW sample, a real purchase log: 2,357 customers who made their first purchase at CDNOW in
 * the first 12 weeks of 1997, and all their purchases until the end of June 1998 (6,919 lines).
 * It is the data set of the Pareto/NBD and BG/NBD literature (Fader & Hardie), as shipped in the
 * MIT-licensed Python package `lifetimes` (lifetimes/datasets/CDNOW_sample.txt), converted to CSV
 * (`customer,date,cds,dollars`) in `data/cdnow_sample.csv`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Purchase } from './domain/purchase-log';

/** Where the literature's 39-week calibration period ends (1997-01-01 + 39 weeks). */
export const CDNOW_CALIBRATION_END = Date.parse('1997-10-01T00:00:00Z');
/** The end of the log (1998-06-30, 78 weeks after 1997-01-01). */
export const CDNOW_END = Date.parse('1998-07-01T00:00:00Z');

/**
 * The sample's purchases, one per customer and day (lines of the same day summed, as the papers
 * count them), at noon UTC of their date: the log has dates, not times.
 */
export function loadCdnowSample(file = join(__dirname, '..', '..', 'data', 'cdnow_sample.csv')): Purchase[] {
  const byDay = new Map<string, Purchase>();
  for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
    if (!line.trim()) continue;
    const [customer, date, , dollars] = line.split(',');
    const at = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T12:00:00Z`);
    const key = `${customer}|${date}`;
    const p = byDay.get(key);
    if (p) p.revenue += Number(dollars);
    else byDay.set(key, { customerId: `cdnow-${customer}`, at, revenue: Number(dollars) });
  }
  return [...byDay.values()].sort((a, b) => a.at - b.at);
}
