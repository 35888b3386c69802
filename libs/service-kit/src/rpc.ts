import { status, type handleUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { partitionOf, quoteInput } from '@kairos/contracts';
import type { CommonConfig } from './config';
import type { Logger } from './logger';

/** An error a handler throws to answer with a gRPC status other than INTERNAL. */
export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A unary gRPC handler over `fn` (sync or async): its value is the response. An RpcError answers
 * with its code and message; `known` may give the code of other errors the service expects; any
 * other error is logged under the RPC's name and answers INTERNAL.
 */
export function unaryHandler<Req, Res>(
  name: string,
  fn: (req: Req) => Res | Promise<Res>,
  logger: Logger,
  known: (err: unknown) => status | undefined = () => undefined,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    new Promise<Res>((resolve) => resolve(fn(call.request))).then(
      (res) => callback(null, res),
      (err: unknown) => {
        const message = (err as Error)?.message ?? String(err);
        const code = err instanceof RpcError ? err.code : known(err);
        if (code === undefined) logger.error({ rpc: name, err: message }, 'rpc failed');
        callback({ code: code ?? status.INTERNAL, details: message } as ServiceError);
      },
    );
  };
}

/** The partitions a replica runs: one worker per owned partition, out of `partitions`. */
export interface PartitionRuntime<W> {
  partitions: number;
  replicaOrdinal: number;
  replicas: number;
  workers: Map<number, W>;
}

/** The runtime of a replica configured by `config` that runs `workers`. */
export function partitionRuntime<W>(
  config: Pick<CommonConfig, 'KAIROS_PARTITIONS' | 'KAIROS_REPLICA_ORDINAL' | 'KAIROS_REPLICAS'>,
  workers: Map<number, W>,
): PartitionRuntime<W> {
  return {
    partitions: config.KAIROS_PARTITIONS,
    replicaOrdinal: config.KAIROS_REPLICA_ORDINAL,
    replicas: config.KAIROS_REPLICAS,
    workers,
  };
}

/** The partition of a customer and its worker, undefined when another replica runs that partition. */
export function partitionWorker<W>(
  runtime: PartitionRuntime<W>,
  customerId: string,
): { partition: number; worker: W | undefined } {
  const partition = partitionOf(customerId, runtime.partitions);
  return { partition, worker: runtime.workers.get(partition) };
}

/**
 * The partition of a customer and its worker on this replica. When another replica runs the
 * partition, throws FAILED_PRECONDITION naming that replica.
 */
export function partitionOwner<W>(
  runtime: PartitionRuntime<W>,
  customerId: string,
): { partition: number; worker: W } {
  const { partition, worker } = partitionWorker(runtime, customerId);
  if (worker === undefined) {
    throw new RpcError(
      status.FAILED_PRECONDITION,
      `customer_id ${quoteInput(customerId)} is in partition ${partition}, owned by replica ${partition % runtime.replicas}; ` +
        `this is replica ${runtime.replicaOrdinal}`,
    );
  }
  return { partition, worker };
}
