import { filters, STREAMS, type ServiceProvisioning } from '@kairos/contracts';
import { DEFINITIONS_BUCKET, DEFINITIONS_HISTORY } from '@kairos/definitions';
import { enrichedPartitionSpec } from '@kairos/messaging';
import { CHECKPOINT_BUCKET, CHECKPOINT_HISTORY } from './checkpoints';

export const SERVICE_NAME = 'pattern-detection';

/** What pattern-detection needs provisioned, and the NATS subjects it uses. */
export const patternDetectionProvisioning: ServiceProvisioning = {
  service: SERVICE_NAME,
  consumers: ({ partitions }) =>
    Array.from({ length: partitions }, (_, p) => enrichedPartitionSpec(SERVICE_NAME, p)),
  // Each partition restarts at its checkpoint's next sequence.
  resetsConsumers: true,
  publishes: ['triggers.fired.>'],
  kv: [
    // Triggers (`kairosctl apply`); KAIROS_DEFINITIONS_DIR, which writes them, is for `self` only.
    { bucket: DEFINITIONS_BUCKET, history: DEFINITIONS_HISTORY, write: false },
    { bucket: CHECKPOINT_BUCKET, history: CHECKPOINT_HISTORY, write: true },
  ],
  scans: [
    // The fires already stored, read at restore; the enriched events Simulate replays.
    { stream: STREAMS.TRIGGERS.name, filter: filters.allFired },
    { stream: STREAMS.EVENTS.name, filter: filters.allEnriched },
  ],
  indexes: [],
};
