import { unitInterval } from './hashing';

/**
 * Control-group bucket of a customer for a workflow in [0, 100). Deterministic in (customer,
 * workflow) so a customer stays in (or out of) a workflow's control group across runs and replicas,
 * and independent between workflows.
 */
export function holdoutBucket(customerId: string, workflow: string): number {
  return unitInterval('holdout', workflow, customerId) * 100;
}

export function isHeldOut(customerId: string, workflow: string, holdoutPercent: number): boolean {
  return holdoutPercent > 0 && holdoutBucket(customerId, workflow) < holdoutPercent;
}
