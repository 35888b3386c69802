/**
 * Stream and consumer specifications shared by every service. Plain data, so libs/messaging can
 * provision them idempotently and tests can assert on them.
 */
export interface StreamSpec {
  name: string;
  subjects: string[];
  /** How long JetStream remembers a Nats-Msg-Id for de-duplication (ms). Must exceed the retry horizon. */
  duplicateWindowMs: number;
  /** Retention by age (ms); 0 = unlimited. */
  maxAgeMs: number;
  description: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const STREAMS = {
  EVENTS: {
    name: 'EVENTS',
    subjects: ['events.>'],
    duplicateWindowMs: 2 * 60_000,
    maxAgeMs: 30 * DAY,
    description: 'Raw, enriched and predicted customer events',
  },
  TRIGGERS: {
    name: 'TRIGGERS',
    subjects: ['triggers.>'],
    duplicateWindowMs: 2 * 60_000,
    maxAgeMs: 30 * DAY,
    description: 'Fired triggers',
  },
  ACTIONS: {
    name: 'ACTIONS',
    subjects: ['actions.>'],
    duplicateWindowMs: 2 * 60_000,
    maxAgeMs: 90 * DAY,
    description: 'Requested actions and their outcomes',
  },
  PRIVACY: {
    name: 'PRIVACY',
    subjects: ['privacy.>'],
    duplicateWindowMs: 2 * 60_000,
    // An erase command waits here for a service that is down; longer than any planned outage, and
    // short enough that the customer ids the commands carry do not outlive the data they erased.
    maxAgeMs: 30 * DAY,
    description:
      "Erasure commands (privacy.erase.<p>) and the services' acknowledgements (privacy.erased.<service>)",
  },
  DLQ: {
    name: 'DLQ',
    subjects: ['dlq.>'],
    duplicateWindowMs: 2 * 60_000,
    maxAgeMs: 30 * DAY,
    description: 'Messages whose handler failed max_deliver times, with the error',
  },
} as const satisfies Record<string, StreamSpec>;

export const ALL_STREAMS: StreamSpec[] = Object.values(STREAMS);

export interface ConsumerSpec {
  stream: string;
  durable: string;
  filterSubject: string;
  /** Attempts before dead-lettering. */
  maxDeliver: number;
  /** Redelivery delays (ms) between attempts; length < maxDeliver. */
  backoffMs: number[];
  ackWaitMs: number;
  /** In-flight messages; 1 for strict order. */
  maxAckPending: number;
  /**
   * When set, a newly created consumer starts at this stream sequence instead of the beginning
   * (services that restore state from a checkpoint replay from the sequence after it). Ignored when
   * the consumer already exists: delete it first to move its start.
   */
  startSequence?: number;
  /**
   * `explicit` (the default): every message is acked on its own. `all`: an ack covers every earlier
   * message of the consumer too, so a loop that handles messages in stream order (`ordered`,
   * `ordered-batch`) acks a whole batch with one ack of its last message.
   */
  ackPolicy?: 'explicit' | 'all';
}

export const DEFAULT_BACKOFF_MS = [250, 1_000, 5_000, 15_000];

/** A durable pull consumer spec with the defaults every service uses. */
export function consumerSpec(
  stream: string,
  durable: string,
  filterSubject: string,
  overrides: Partial<Omit<ConsumerSpec, 'stream' | 'durable' | 'filterSubject'>> = {},
): ConsumerSpec {
  return {
    stream,
    durable,
    filterSubject,
    maxDeliver: 5,
    backoffMs: DEFAULT_BACKOFF_MS,
    ackWaitMs: 30_000,
    maxAckPending: 1_000,
    ...overrides,
  };
}

/** Durable name of a service's consumer on one partition, e.g. `enrichment-p03`. */
export function partitionDurable(service: string, partition: number): string {
  return `${service}-p${String(partition).padStart(2, '0')}`;
}

/**
 * A partition-owning service's consumer of one partition: durable `<service>-pNN` on
 * `filter(partition)` of `stream`.
 */
export function partitionConsumer(
  stream: string,
  service: string,
  filter: (partition: number) => string,
  partition: number,
  overrides: Partial<Omit<ConsumerSpec, 'stream' | 'durable' | 'filterSubject'>> = {},
): ConsumerSpec {
  return consumerSpec(stream, partitionDurable(service, partition), filter(partition), overrides);
}

/** The numbers 0 … partitions − 1, mapped: one item per partition. */
export function perPartition<T>(partitions: number, fn: (partition: number) => T): T[] {
  return Array.from({ length: partitions }, (_, p) => fn(p));
}

/** Headers Kairos sets on every message besides traceparent/tracestate. */
export const HEADERS = {
  msgId: 'Nats-Msg-Id',
  schema: 'Kairos-Schema',
  dlqError: 'Kairos-Dlq-Error',
  dlqSubject: 'Kairos-Dlq-Subject',
  dlqDeliveries: 'Kairos-Dlq-Deliveries',
  dlqStream: 'Kairos-Dlq-Stream',
  dlqSequence: 'Kairos-Dlq-Sequence',
  /** The durable consumer whose handler failed. */
  dlqConsumer: 'Kairos-Dlq-Consumer',
  /** On a replayed dead letter: the one durable consumer that handles it; the others ack and skip it. */
  replayFor: 'Kairos-Replay-For',
} as const;

export const DEFAULT_PARTITIONS = 16;
