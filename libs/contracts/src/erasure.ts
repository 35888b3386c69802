/**
 * The services that keep per-customer state and therefore consume `privacy.erase.<p>` and
 * acknowledge on `privacy.erased.<service>`. An erasure is complete once each of them acknowledged
 * (`kairosctl profile erase <id> --wait`). Ingest keeps no per-customer state.
 */
export const ERASURE_SERVICES = [
  'enrichment',
  'pattern-detection',
  'orchestration',
  'delivery',
  'prediction',
  'analytics',
] as const;

export type ErasureService = (typeof ERASURE_SERVICES)[number];

/** Durable consumer of a service's erase commands: per partition for partitioned services. */
export function erasureDurable(service: string, partition?: number): string {
  return partition === undefined
    ? `${service}-erase`
    : `${service}-erase-p${String(partition).padStart(2, '0')}`;
}
