import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { profiles } from '@kairos/contracts';
import { grpcFailure, patchBytes, RawGrpcClient } from '@kairos/testkit';
import { createLogger, GrpcServer } from '../../src';

const GET = '/kairos.profiles.v1.ProfileService/Get';

describe('GrpcServer: requests that break the API rules answer INVALID_ARGUMENT', function () {
  const server = new GrpcServer(createLogger('grpc-test', 'silent'));
  const handled: string[] = [];
  let raw: RawGrpcClient;

  before(async () => {
    // Get's own decoder fails for ids starting with "boom" (as a decoder meeting bytes it cannot read).
    const definition = {
      ...profiles.ProfileServiceService,
      get: {
        ...profiles.ProfileServiceService.get,
        requestDeserialize: (bytes: Buffer) => {
          const req = profiles.GetRequest.decode(bytes);
          if (req.customerId.startsWith('boom')) throw new Error(`cannot decode '${req.customerId}'`);
          return req;
        },
      },
    };
    const impl = {
      get: (call: grpc.ServerUnaryCall<profiles.GetRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        handled.push(call.request.customerId);
        cb({ code: grpc.status.NOT_FOUND, details: 'no profile' });
      },
    };
    server.addService(definition, impl, 'kairos.profiles.v1.ProfileService');
    raw = new RawGrpcClient(`127.0.0.1:${await server.start(0, '127.0.0.1')}`);
  });
  after(async () => {
    raw.close();
    await server.shutdown(100);
  });

  it('answers INVALID_ARGUMENT naming the field, and never calls the handler', async () => {
    const bytes = patchBytes(profiles.GetRequest.encode({ customerId: 'Y~' }).finish(), '~', [0xff]);
    const err = await grpcFailure(raw.unary(GET, bytes));
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(err.details, 'customer_id: not valid UTF-8');
    assert.deepEqual(handled, []);
  });

  it("maps a decoder's own failure to INVALID_ARGUMENT with its message, cut, not INTERNAL", async () => {
    const id = `boom${'x'.repeat(500)}`;
    const err = await grpcFailure(raw.unary(GET, profiles.GetRequest.encode({ customerId: id }).finish()));
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(err.details, `request could not be decoded: cannot decode '${id}'`.slice(0, 330) + '…');
    assert.deepEqual(handled, []);
  });

  it('passes valid requests to the handler unchanged', async () => {
    const err = await grpcFailure(raw.unary(GET, profiles.GetRequest.encode({ customerId: 'ü-1' }).finish()));
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.deepEqual(handled, ['ü-1']);
  });
});
