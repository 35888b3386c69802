import { erasureConsumer, filters, perPartition, STREAMS, type ServiceProvisioning } from '@kairos/contracts';
import { DEFINITIONS_READER } from '@kairos/definitions';
import { enrichedPartitionSpec } from '@kairos/messaging';
import { CHECKPOINT_BUCKET, CHECKPOINT_HISTORY } from './checkpoints';

export const SERVICE_NAME = 'pattern-detection';

/** What pattern-detection needs provisioned, and the NATS subjects it uses. */
export const patternDetectionProvisioning: ServiceProvisioning = {
  service: SERVICE_NAME,
  consumers: ({ partitions }) => [
    ...perPartition(partitions, (p) => enrichedPartitionSpec(SERVICE_NAME, p)),
    ...perPartition(partitions, (p) => erasureConsumer(SERVICE_NAME, p)),
  ],
  publishes: ['triggers.fired.>', `privacy.erased.${SERVICE_NAME}`],
  kv: [
    // Triggers (`kairosctl apply`); KAIROS_DEFINITIONS_DIR, which writes them, is for `self` only.
    DEFINITIONS_READER,
    { bucket: CHECKPOINT_BUCKET, history: CHECKPOINT_HISTORY, write: true },
  ],
  scans: [
    // The fires already stored, read at restore; the enriched events Simulate replays.
    { stream: STREAMS.TRIGGERS.name, filter: filters.allFired },
    { stream: STREAMS.EVENTS.name, filter: filters.allEnriched },
  ],
  indexes: [],
};
