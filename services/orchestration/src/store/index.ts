/**
 * MongoDB persistence of orchestration, one module per store: runs (with the re-entry markers),
 * durable timers, arbitration windows and the local send ledger.
 */
export * from './documents';
export { RunStore } from './runs';
export { TimerStore } from './timers';
export { WindowStore } from './windows';
export { SendLedger } from './ledger';
export { eraseCustomerDocuments } from './erasure';
