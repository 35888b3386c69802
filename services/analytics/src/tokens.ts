import { token } from '@kairos/service-kit';
import type { AnomalyAlerts } from './alerts';
import type { AnalyticsState } from './domain/state';
import type { Recorder } from './recorder';
import type { ReportService } from './report-service';
import type { FactStore } from './store';
import type { WorkflowCatalog } from './workflows';

/** DI tokens of the analytics service (common ones live in @kairos/service-kit TOKENS). */
export const ANALYTICS_TOKENS = {
  State: token<AnalyticsState>('kairos.analytics.State'),
  Store: token<FactStore>('kairos.analytics.Store'),
  Catalog: token<WorkflowCatalog>('kairos.analytics.Catalog'),
  Recorder: token<Recorder>('kairos.analytics.Recorder'),
  Reports: token<ReportService>('kairos.analytics.Reports'),
  Alerts: token<AnomalyAlerts>('kairos.analytics.Alerts'),
} as const;
