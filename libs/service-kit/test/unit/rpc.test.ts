import assert from 'node:assert/strict';
import { status, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { partitionOf } from '@kairos/contracts';
import {
  createLogger,
  partitionOwner,
  partitionRuntime,
  partitionWorker,
  RpcError,
  unaryHandler,
} from '../../src';

const logger = createLogger('rpc-test', 'silent');

function call<Req, Res>(handler: ReturnType<typeof unaryHandler<Req, Res>>, request: Req) {
  return new Promise<{ err: Partial<ServiceError> | null; res?: Res }>((resolve) =>
    handler({ request } as ServerUnaryCall<Req, Res>, (err, res) =>
      resolve({ err: err as Partial<ServiceError> | null, res: res ?? undefined }),
    ),
  );
}

class Known extends Error {}

describe('unaryHandler', () => {
  it('answers with the value of a sync or async function', async () => {
    assert.deepEqual(
      (
        await call(
          unaryHandler('Sync', (n: number) => n + 1, logger),
          1,
        )
      ).res,
      2,
    );
    assert.deepEqual(
      (
        await call(
          unaryHandler('Async', async (n: number) => n * 2, logger),
          4,
        )
      ).res,
      8,
    );
  });

  it('answers an RpcError with its code, a known error with the code given, anything else INTERNAL', async () => {
    const fail = (err: Error) => () => {
      throw err;
    };
    const known = (err: unknown) => (err instanceof Known ? status.INVALID_ARGUMENT : undefined);
    const rpc = await call(unaryHandler('A', fail(new RpcError(status.NOT_FOUND, 'no such')), logger), {});
    assert.deepEqual(rpc.err, { code: status.NOT_FOUND, details: 'no such' });
    const mapped = await call(unaryHandler('B', fail(new Known('bad field')), logger, known), {});
    assert.deepEqual(mapped.err, { code: status.INVALID_ARGUMENT, details: 'bad field' });
    const other = await call(unaryHandler('C', fail(new Error('boom')), logger, known), {});
    assert.deepEqual(other.err, { code: status.INTERNAL, details: 'boom' });
  });
});

describe('partitionOwner', () => {
  const config = { KAIROS_PARTITIONS: 4, KAIROS_REPLICA_ORDINAL: 1, KAIROS_REPLICAS: 2 };
  const runtime = partitionRuntime(
    config,
    new Map([
      [1, 'one'],
      [3, 'three'],
    ]),
  );
  const ofPartition = (p: number) => {
    for (let i = 0; ; i++) if (partitionOf(`c${i}`, 4) === p) return `c${i}`;
  };

  it('gives the worker of a partition this replica runs', () => {
    assert.deepEqual(partitionOwner(runtime, ofPartition(3)), { partition: 3, worker: 'three' });
  });

  it('names the owning replica when another one runs the partition', () => {
    const customer = ofPartition(2);
    assert.deepEqual(partitionWorker(runtime, customer), { partition: 2, worker: undefined });
    assert.throws(
      () => partitionOwner(runtime, customer),
      (err: unknown) =>
        err instanceof RpcError &&
        err.code === status.FAILED_PRECONDITION &&
        /partition 2, owned by replica 0; this is replica 1/.test(err.message),
    );
  });
});
