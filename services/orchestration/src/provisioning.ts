import {
  erasureConsumer,
  filters,
  partitionConsumer,
  perPartition,
  STREAMS,
  type ServiceProvisioning,
} from '@kairos/contracts';
import { DEFINITIONS_READER } from '@kairos/definitions';

/** Orchestration's consumer of one partition of `triggers.fired`. */
export const firedPartitionConsumer = (partition: number) =>
  partitionConsumer(STREAMS.TRIGGERS.name, 'orchestration', filters.firedPartition, partition);

/** What orchestration needs provisioned, and the NATS subjects it uses. */
export const orchestrationProvisioning: ServiceProvisioning = {
  service: 'orchestration',
  consumers: ({ partitions }) => [
    ...perPartition(partitions, firedPartitionConsumer),
    ...perPartition(partitions, (p) => erasureConsumer('orchestration', p)),
  ],
  publishes: ['actions.requested.>', 'actions.outcome.>', 'privacy.erased.orchestration'],
  // Workflows from `kairosctl apply` (KAIROS_DEFINITIONS_WATCH).
  kv: [DEFINITIONS_READER],
  scans: [],
  indexes: [
    { collection: 'runs', keys: { customerId: 1, workflow: 1, state: 1 } },
    { collection: 'runs', keys: { customerId: 1, createdAt: -1 } },
    { collection: 'timers', keys: { partition: 1, dueAt: 1 } },
    { collection: 'timers', keys: { runId: 1 } },
    // Erasure and the retention sweeps (KAIROS_RUN_RETENTION).
    { collection: 'runs', keys: { updatedAt: 1 } },
    { collection: 'timers', keys: { customerId: 1 } },
    { collection: 'timer_claims', keys: { timerId: 1 } },
    { collection: 'timer_claims', keys: { at: 1 } },
    { collection: 'arbitration_windows', keys: { state: 1, closesAt: 1 } },
    { collection: 'send_ledger', keys: { updatedAt: 1 } },
  ],
};
