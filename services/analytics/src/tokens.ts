import { tokens } from '@kairos/service-kit';
import type { AnomalyAlerts } from './alerts';
import type { AnalyticsState } from './domain/state';
import type { Recorder } from './recorder';
import type { ReportService } from './report-service';
import type { FactStore } from './store';
import type { WorkflowCatalog } from './workflows';

/** DI tokens of the analytics service (common ones live in @kairos/service-kit TOKENS). */
export const ANALYTICS_TOKENS = tokens<{
  State: AnalyticsState;
  Store: FactStore;
  Catalog: WorkflowCatalog;
  Recorder: Recorder;
  Reports: ReportService;
  Alerts: AnomalyAlerts;
}>('kairos.analytics');
