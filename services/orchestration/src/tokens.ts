import { tokens } from '@kairos/service-kit';
import type { TemplateCatalog } from './domain/content';
import type { ActionEmitter } from './emitter';
import type { OrchestratorSettings } from './orchestrator';
import type { SendTimePort } from './ports';
import type { ProfileGateway } from './profiles';
import type { RunStore, SendLedger, TimerStore, WindowStore } from './store';
import type { WorkflowRegistry } from '@kairos/definitions';

/** DI tokens of the orchestration service (common ones are in @kairos/service-kit TOKENS). */
export const ORCH = tokens<{
  Settings: OrchestratorSettings;
  Runs: RunStore;
  Timers: TimerStore;
  Windows: WindowStore;
  Ledger: SendLedger;
  Profiles: ProfileGateway;
  Workflows: WorkflowRegistry;
  Templates: TemplateCatalog;
  Emitter: ActionEmitter;
  SendTime: SendTimePort;
}>('kairos.orchestration');
