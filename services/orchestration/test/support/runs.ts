import { partitionOf } from '@kairos/contracts';
import type { RunDoc } from '../../src/store';

/**
 * A run of the `cart-high` workflow (trigger `t-high`) for `customerId` as the store holds it,
 * written straight to the store by tests that set up a state the service would leave behind;
 * `fields` replace the defaults (a fresh run in its first step).
 */
export function cartHighRun(customerId: string, now: Date, fields: Partial<RunDoc>): RunDoc {
  return {
    _id: `run_${customerId}`,
    customerId,
    partition: partitionOf(customerId, 16),
    workflow: 'cart-high',
    workflowVersion: 0,
    trigger: 't-high',
    triggerFiredId: `tf_${customerId}`,
    priority: 80,
    firedAt: now,
    transactional: false,
    state: 'running',
    pc: 0,
    stepId: 'steps[0]',
    windowId: `win_${customerId}`,
    context: { bindings: {}, trigger: {} },
    profile: {},
    actions: [],
    history: [],
    createdAt: now,
    updatedAt: now,
    ...fields,
  };
}
