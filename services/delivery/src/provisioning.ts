import {
  consumerSpec,
  erasureConsumer,
  filters,
  STREAMS,
  type ConsumerSpec,
  type ServiceProvisioning,
} from '@kairos/contracts';
import { loadConfig } from '@kairos/service-kit';
import { deliveryConsumerShape, type DeliveryConsumerConfig } from './config';

/** Durable name of delivery's consumer over `actions.requested.>` (shared by every replica). */
export const DURABLE = 'delivery';

/** Delivery's consumer: its attempts, backoff and ack wait are settings (see config.ts). */
export function deliveryConsumer(cfg: DeliveryConsumerConfig): ConsumerSpec {
  return consumerSpec(STREAMS.ACTIONS.name, DURABLE, filters.allRequested, {
    maxDeliver: cfg.KAIROS_DELIVERY_MAX_DELIVER,
    backoffMs: cfg.KAIROS_DELIVERY_BACKOFF,
    ackWaitMs: cfg.KAIROS_DELIVERY_ACK_WAIT,
    maxAckPending: Math.max(cfg.KAIROS_DELIVERY_MAX_IN_FLIGHT * 4, 256),
  });
}

/** What delivery needs provisioned, and the NATS subjects it uses. */
export const deliveryProvisioning: ServiceProvisioning = {
  service: 'delivery',
  consumers: ({ env }) => [
    deliveryConsumer(loadConfig(deliveryConsumerShape, env)),
    erasureConsumer('delivery'),
  ],
  publishes: ['actions.outcome.>', 'privacy.erased.delivery'],
  kv: [],
  scans: [],
  indexes: [
    { collection: 'deliveries', keys: { action_id: 1 } },
    { collection: 'inbox', keys: { customer_id: 1, created_at: -1 } },
    // Erasure and the retention sweeps.
    { collection: 'deliveries', keys: { 'action.customer_id': 1 } },
    { collection: 'deliveries', keys: { created_at: 1 } },
    { collection: 'inbox', keys: { created_at: 1 } },
  ],
};
