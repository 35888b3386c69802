// The real-log check of `pnpm bench prediction`: the CDNOW sample (a real purchase log, the
// literature's data set) through the path `kairosctl predict --events` runs, with the purchase model
// ranked beside BG/NBD and Pareto/NBD on a calibration / holdout split at the 39th week.
import {
  CDNOW_CALIBRATION_END,
  checkPurchaseLog,
  loadCdnowSample,
  purchaseRecords,
} from '@kairos/prediction';
import { table as formatTable } from './table';

const round = (x: number) => Number(x.toFixed(3));

/**
 * Figures at the literature's holdout (the 39 weeks after the calibration period, 273 days) and
 * at the 30-day horizon the service uses by default.
 */
export function runCdnowCheck(): { figures: Record<string, number>; table: string } {
  const records = purchaseRecords(loadCdnowSample());
  const figures: Record<string, number> = {};
  const rows: string[][] = [];
  for (const [suffix, horizonDays] of [
    ['', 273],
    ['_30d', 30],
  ] as const) {
    const r = checkPurchaseLog(records, { asOf: CDNOW_CALIBRATION_END, horizonDays });
    figures[`cdnow_purchase_auc${suffix}`] = round(r.purchaseAuc);
    figures[`cdnow_bgnbd_auc${suffix}`] = round(r.bgnbdAuc);
    figures[`cdnow_pareto_nbd_auc${suffix}`] = round(r.paretoNbdAuc);
    rows.push([
      `${horizonDays} d`,
      `${r.buyers} of ${r.customers}`,
      `${r.trainingLabels}${r.coldStart ? ' (cold start)' : ''}`,
      String(round(r.purchaseAuc)),
      String(round(r.bgnbdAuc)),
      String(round(r.paretoNbdAuc)),
    ]);
  }
  const table = formatTable(
    'CDNOW sample: scored as of week 39 (1997-10-01), labels = a purchase within the horizon',
    ['horizon', 'buyers', 'training labels', 'model AUC', 'BG/NBD AUC', 'Pareto/NBD AUC'],
    rows,
  );
  return { figures, table };
}
