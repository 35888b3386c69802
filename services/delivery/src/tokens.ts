/** DI tokens of the delivery service (common ones live in @kairos/service-kit TOKENS). */
export const DELIVERY_TOKENS = {
  Adapters: Symbol.for('kairos.delivery.Adapters'),
  Ledger: Symbol.for('kairos.delivery.Ledger'),
  Inbox: Symbol.for('kairos.delivery.Inbox'),
  Outcomes: Symbol.for('kairos.delivery.Outcomes'),
  Limits: Symbol.for('kairos.delivery.Limits'),
  SelectionOptions: Symbol.for('kairos.delivery.SelectionOptions'),
  RetryPolicy: Symbol.for('kairos.delivery.RetryPolicy'),
  Guarantees: Symbol.for('kairos.delivery.Guarantees'),
  FaultHook: Symbol.for('kairos.delivery.FaultHook'),
  TrackingOptions: Symbol.for('kairos.delivery.TrackingOptions'),
  CallbackSecret: Symbol.for('kairos.delivery.CallbackSecret'),
} as const;
