import {
  consumerSpec,
  filters,
  partitionDurable,
  STREAMS,
  type ConsumerSpec,
  type ServiceProvisioning,
} from '@kairos/contracts';
import { DEFINITIONS_BUCKET, DEFINITIONS_HISTORY } from '@kairos/definitions';

/** Orchestration's consumer of one partition of `triggers.fired`. */
export function firedPartitionConsumer(partition: number): ConsumerSpec {
  return consumerSpec(
    STREAMS.TRIGGERS.name,
    partitionDurable('orchestration', partition),
    filters.firedPartition(partition),
  );
}

/** What orchestration needs provisioned, and the NATS subjects it uses. */
export const orchestrationProvisioning: ServiceProvisioning = {
  service: 'orchestration',
  consumers: ({ partitions }) => Array.from({ length: partitions }, (_, p) => firedPartitionConsumer(p)),
  publishes: ['actions.requested.>', 'actions.outcome.>'],
  // Workflows from `kairosctl apply` (KAIROS_DEFINITIONS_WATCH).
  kv: [{ bucket: DEFINITIONS_BUCKET, history: DEFINITIONS_HISTORY, write: false }],
  scans: [],
  indexes: [
    { collection: 'runs', keys: { customerId: 1, workflow: 1, state: 1 } },
    { collection: 'runs', keys: { customerId: 1, createdAt: -1 } },
    { collection: 'timers', keys: { partition: 1, dueAt: 1 } },
    { collection: 'timers', keys: { runId: 1 } },
  ],
};
