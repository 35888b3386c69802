import {
  CATEGORY_TOKEN,
  erasureConsumer,
  events,
  perPartition,
  STREAMS,
  type ServiceProvisioning,
} from '@kairos/contracts';
import { enrichedPartitionSpec } from '@kairos/messaging';

export const SERVICE_NAME = 'prediction';

const PREDICTED = CATEGORY_TOKEN[events.EventCategory.EVENT_CATEGORY_PREDICTED];

/** Subjects of the predicted events of one partition, or of all (`*`). */
export const predictedSubjects = (partition: number | '*') => `events.raw.${partition}.${PREDICTED}.>`;

/** What prediction needs provisioned, and the NATS subjects it uses. */
export const predictionProvisioning: ServiceProvisioning = {
  service: SERVICE_NAME,
  consumers: ({ partitions }) => [
    ...perPartition(partitions, (p) => enrichedPartitionSpec(SERVICE_NAME, p)),
    ...perPartition(partitions, (p) => erasureConsumer(SERVICE_NAME, p)),
  ],
  publishes: [predictedSubjects('*'), `privacy.erased.${SERVICE_NAME}`],
  kv: [],
  // The predicted events already stored, read at restore.
  scans: [{ stream: STREAMS.EVENTS.name, filter: predictedSubjects('*') }],
  indexes: [
    { collection: 'checkpoint_chunks', keys: { partition: 1, generation: 1 } },
    { collection: 'model_versions', keys: { model: 1, partition: 1, version: -1 } },
    { collection: 'model_versions', keys: { model: 1, examples: -1 } },
  ],
};
