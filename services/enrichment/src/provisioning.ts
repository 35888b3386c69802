import {
  consumerSpec,
  erasureConsumer,
  filters,
  partitionConsumer,
  perPartition,
  STREAMS,
} from '@kairos/contracts';
import type { ServiceProvisioning } from '@kairos/contracts';
import { COMMUNICATIONS } from './communications';
import { CONSUMER_TUNING } from './config';
import { TIME_OCCURRENCES } from './time-events';

/** Enrichment's consumer of one partition of `events.raw`. */
export const rawPartitionConsumer = (partition: number) =>
  // Events wait unacked for the profile write-behind: room for a few seconds of writes behind.
  partitionConsumer(STREAMS.EVENTS.name, 'enrichment', filters.rawPartition, partition, {
    maxAckPending: CONSUMER_TUNING.eventsMaxAckPending,
  });

/** The consumer of every action outcome (replica 0 records them into the communication log). */
export const OUTCOMES_CONSUMER = consumerSpec(
  STREAMS.ACTIONS.name,
  'enrichment-outcomes',
  filters.allOutcomes,
);

/** What enrichment needs provisioned, and the NATS subjects it uses. */
export const enrichmentProvisioning: ServiceProvisioning = {
  service: 'enrichment',
  consumers: ({ partitions }) => [
    ...perPartition(partitions, rawPartitionConsumer),
    OUTCOMES_CONSUMER,
    ...perPartition(partitions, (p) => erasureConsumer('enrichment', p)),
  ],
  // Erase commands (ProfileService.Delete) and their acknowledgement.
  publishes: [
    'events.enriched.>',
    'events.raw.*.time_based.>',
    'privacy.erase.*',
    'privacy.erased.enrichment',
  ],
  kv: [],
  scans: [],
  indexes: [
    { collection: COMMUNICATIONS, keys: { customer_id: 1, at: -1 } },
    // The retention sweep's range (KAIROS_COMMUNICATIONS_RETENTION).
    { collection: COMMUNICATIONS, keys: { at: 1 } },
    { collection: TIME_OCCURRENCES, keys: { status: 1, fire_at: 1 } },
    { collection: TIME_OCCURRENCES, keys: { customer_id: 1, rule: 1 } },
  ],
};
