/**
 * Runs one measure for one query: gRPC, the dashboard's JSON API and the benchmark all call it,
 * so they show the same numbers.
 */
import { latencyHistogram } from '@kairos/telemetry';
import { analytics } from '@kairos/contracts';
import type { Clock } from '@kairos/service-kit';
import { normalizeQuery, QueryError, type Measure, type RawQuery } from './domain/query';
import {
  attributionReport,
  funnelReport,
  liftReport,
  outcomesReport,
  reasonsReport,
  roiReport,
  timingReport,
  traceAttribution,
  volumeReport,
  type ReportSettings,
} from './domain/reports';
import type { AnalyticsState } from './domain/state';
import { ATTRIBUTION_MODELS, type AttributionModel } from './domain/attribution';

const latency = latencyHistogram('kairos_analytics_report_seconds', 'Time to compute one report', [
  'measure',
]);

export interface Reports {
  volume: analytics.VolumeReport;
  funnel: analytics.FunnelReport;
  lift: analytics.LiftReport;
  timing: analytics.TimingReport;
  roi: analytics.RoiReport;
  reasons: analytics.ReasonsReport;
  attribution: analytics.AttributionReport;
  outcomes: analytics.OutcomesReport;
}

/** Each measure's report in the proto's JSON mapping (the dashboard's API, `kairosctl report -o json`). */
export const REPORT_JSON: { [M in Measure]: (report: Reports[M]) => unknown } = {
  volume: analytics.VolumeReport.toJSON,
  funnel: analytics.FunnelReport.toJSON,
  lift: analytics.LiftReport.toJSON,
  timing: analytics.TimingReport.toJSON,
  roi: analytics.RoiReport.toJSON,
  reasons: analytics.ReasonsReport.toJSON,
  attribution: analytics.AttributionReport.toJSON,
  outcomes: analytics.OutcomesReport.toJSON,
};

export class ReportService {
  constructor(
    private readonly state: AnalyticsState,
    private readonly settings: ReportSettings,
    private readonly clock: Clock,
  ) {}

  /** The report of `measure`; throws QueryError naming the bad field. */
  run<M extends Measure>(measure: M, raw: RawQuery): Reports[M] {
    const q = normalizeQuery(measure, raw, this.clock.now());
    const end = latency.startTimer({ measure });
    try {
      const s = this.state;
      const r = {
        volume: () => volumeReport(s, q),
        funnel: () => funnelReport(s, q),
        lift: () => liftReport(s, q, this.settings),
        timing: () => timingReport(s, q),
        roi: () => roiReport(s, q, this.settings),
        reasons: () => reasonsReport(s, q),
        attribution: () => attributionReport(s, q),
        outcomes: () => outcomesReport(s, q),
      }[measure]();
      return r as Reports[M];
    } finally {
      end();
    }
  }

  trace(id: string, model: string): analytics.AttributionReport {
    if (!id) throw new QueryError('id', 'is required (an action id or a conversion event id)');
    const m = (model || 'last') as AttributionModel;
    if (!ATTRIBUTION_MODELS.includes(m))
      throw new QueryError('attribution_model', `'${model}' is not one of ${ATTRIBUTION_MODELS.join(', ')}`);
    return traceAttribution(this.state, id, m);
  }

  /** What the dashboard offers as filters. */
  dimensions(): { triggers: string[]; workflows: string[]; channels: string[] } {
    const triggers = new Set<string>();
    const workflows = new Set<string>();
    const channels = new Set<string>();
    for (const key of this.state.fires.byKey.keys()) triggers.add(key.split('\u0000')[0]);
    for (const m of this.state.messages.values()) {
      if (m.trigger) triggers.add(m.trigger);
      if (m.workflow) workflows.add(m.workflow);
      if (m.channel) channels.add(m.channel);
    }
    for (const w of this.state.workflows.keys()) workflows.add(w);
    const sorted = (s: Set<string>) => [...s].sort();
    return { triggers: sorted(triggers), workflows: sorted(workflows), channels: sorted(channels) };
  }
}
