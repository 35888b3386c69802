/** DI tokens of the orchestration service (common ones are in @kairos/service-kit TOKENS). */
export const ORCH = {
  Settings: Symbol.for('kairos.orchestration.Settings'),
  Runs: Symbol.for('kairos.orchestration.RunStore'),
  Timers: Symbol.for('kairos.orchestration.TimerStore'),
  Windows: Symbol.for('kairos.orchestration.WindowStore'),
  Ledger: Symbol.for('kairos.orchestration.SendLedger'),
  Profiles: Symbol.for('kairos.orchestration.ProfileGateway'),
  Workflows: Symbol.for('kairos.orchestration.WorkflowRegistry'),
  Templates: Symbol.for('kairos.orchestration.TemplateCatalog'),
  Emitter: Symbol.for('kairos.orchestration.ActionEmitter'),
} as const;
