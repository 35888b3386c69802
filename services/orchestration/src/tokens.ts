import { token } from '@kairos/service-kit';
import type { TemplateCatalog } from './domain/content';
import type { ActionEmitter } from './emitter';
import type { OrchestratorSettings } from './orchestrator';
import type { SendTimePort } from './ports';
import type { ProfileGateway } from './profiles';
import type { RunStore, SendLedger, TimerStore, WindowStore } from './store';
import type { WorkflowRegistry } from './workflows';

/** DI tokens of the orchestration service (common ones are in @kairos/service-kit TOKENS). */
export const ORCH = {
  Settings: token<OrchestratorSettings>('kairos.orchestration.Settings'),
  Runs: token<RunStore>('kairos.orchestration.RunStore'),
  Timers: token<TimerStore>('kairos.orchestration.TimerStore'),
  Windows: token<WindowStore>('kairos.orchestration.WindowStore'),
  Ledger: token<SendLedger>('kairos.orchestration.SendLedger'),
  Profiles: token<ProfileGateway>('kairos.orchestration.ProfileGateway'),
  Workflows: token<WorkflowRegistry>('kairos.orchestration.WorkflowRegistry'),
  Templates: token<TemplateCatalog>('kairos.orchestration.TemplateCatalog'),
  Emitter: token<ActionEmitter>('kairos.orchestration.ActionEmitter'),
  SendTime: token<SendTimePort>('kairos.orchestration.SendTime'),
} as const;
