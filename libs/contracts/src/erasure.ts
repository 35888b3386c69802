import { consumerSpec, STREAMS, type ConsumerSpec } from './streams';
import { filters } from './subjects';

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

/**
 * An erasure may wait for the input backlog and then rewrite stores (analytics reads every segment),
 * so its ack wait is long; a failing one (a checkpoint that cannot be written while NATS refuses
 * publishes) is retried for several minutes before it is dead-lettered (`kairosctl dlq replay`).
 */
const ERASURE_CONSUMER_TUNING = {
  ackWaitMs: 5 * 60_000,
  maxDeliver: 10,
  backoffMs: [1_000, 5_000, 15_000, 60_000],
};

/**
 * A service's consumer of erase commands: one of `privacy.erase.<partition>` for a partition owner,
 * or one of every partition's commands (`partition` omitted) for a service whose state is in its
 * database.
 */
export function erasureConsumer(service: string, partition?: number): ConsumerSpec {
  return consumerSpec(
    STREAMS.PRIVACY.name,
    erasureDurable(service, partition),
    partition === undefined ? filters.allErase : filters.erasePartition(partition),
    ERASURE_CONSUMER_TUNING,
  );
}
