import { consumerSpec, erasureConsumer, filters, STREAMS, type ServiceProvisioning } from '@kairos/contracts';
import { DEFINITIONS_READER } from '@kairos/definitions';
import { CONSUME_BATCH } from './config';

/** Ack-all: one ack per batch (its last message); the loops use one span per batch. */
const consumer = (durable: string, stream: string, filter: string) =>
  consumerSpec(stream, durable, filter, { maxAckPending: CONSUME_BATCH * 4, ackPolicy: 'all' });

/** Analytics's durable consumers, one per kind of fact. */
export const ANALYTICS_CONSUMERS = {
  fires: consumer('analytics-fires', STREAMS.TRIGGERS.name, filters.allFired),
  requests: consumer('analytics-requests', STREAMS.ACTIONS.name, filters.allRequested),
  outcomes: consumer('analytics-outcomes', STREAMS.ACTIONS.name, filters.allOutcomes),
  events: consumer('analytics-events', STREAMS.EVENTS.name, filters.allEnriched),
};

/** What analytics needs provisioned, and the NATS subjects it uses. */
export const analyticsProvisioning: ServiceProvisioning = {
  service: 'analytics',
  consumers: () => [...Object.values(ANALYTICS_CONSUMERS), erasureConsumer('analytics')],
  // Anomaly alerts are system events.
  publishes: ['events.raw.*.system.>', 'privacy.erased.analytics'],
  // Workflow names and goals (KAIROS_DEFINITIONS_WATCH).
  kv: [DEFINITIONS_READER],
  scans: [],
  indexes: [
    { collection: 'fact_segments', keys: { kind: 1, _id: 1 } },
    { collection: 'fact_segments', keys: { maxAt: 1 } },
  ],
};
