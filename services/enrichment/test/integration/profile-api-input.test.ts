import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { profiles } from '@kairos/contracts';
import { grpcFailure, patchBytes, RawGrpcClient } from '@kairos/testkit';
import { call, useHarness } from './helpers';

const GET = '/kairos.profiles.v1.ProfileService/Get';
const UPSERT = '/kairos.profiles.v1.ProfileService/Upsert';

describe('ProfileService rejects hostile input at the API edge (real socket)', function () {
  this.timeout(60_000);

  describe('service', () => {
    let raw: RawGrpcClient;
    // Registered first, so the client closes before the harness does.
    after(() => raw?.close());
    const h = useHarness('enrich-input');
    before(() => {
      raw = new RawGrpcClient(`127.0.0.1:${h.server.port}`);
    });

    it('rejects customer ids with invalid UTF-8, so Y\\xff and Y\\xfe never become one profile', async () => {
      for (const byte of [0xff, 0xfe]) {
        const request = profiles.UpsertRequest.encode(
          profiles.UpsertRequest.fromPartial({ customerId: 'Y~', traits: { plan: 'pro' } }),
        );
        const err = await grpcFailure(raw.unary(UPSERT, patchBytes(request.finish(), '~', [byte])));
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT, err.details);
        assert.equal(err.details, 'customer_id: not valid UTF-8');
      }
      const get = profiles.GetRequest.encode({ customerId: 'Y~' }).finish();
      const err = await grpcFailure(raw.unary(GET, patchBytes(get, '~', [0xff])));
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(err.details, 'customer_id: not valid UTF-8');
    });

    it('rejects invalid UTF-8 in trait values and map values, naming the field', async () => {
      const request = profiles.UpsertRequest.encode(
        profiles.UpsertRequest.fromPartial({ customerId: 'c-traits', traits: { name: 'Ann~' } }),
      ).finish();
      const err = await grpcFailure(raw.unary(UPSERT, patchBytes(request, '~', [0xc3])));
      assert.equal(err.details, 'traits.name: not valid UTF-8');
      const dates = profiles.UpsertRequest.encode(
        profiles.UpsertRequest.fromPartial({ customerId: 'c-dates', dates: { birthday: '1990-01-0~' } }),
      );
      const err2 = await grpcFailure(raw.unary(UPSERT, patchBytes(dates.finish(), '~', [0xff])));
      assert.equal(err2.details, 'dates["birthday"]: not valid UTF-8');
    });

    it('answers INVALID_ARGUMENT for traits nested 200 levels deep, not INTERNAL', async () => {
      let deep: unknown = 'leaf';
      for (let i = 0; i < 200; i++) deep = { a: deep };
      const request = profiles.UpsertRequest.encode(
        profiles.UpsertRequest.fromPartial({ customerId: 'c-deep', traits: { a: deep } }),
      );
      const err = await grpcFailure(raw.unary(UPSERT, request.finish()));
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /^traits\.a(\.a)*: nested deeper than 32 levels \(Struct \/ ListValue\)$/);
    });

    it('bounds customer_id at 128 characters and cuts it when a message quotes it', async () => {
      const long = 'x'.repeat(8 * 1024);
      const requests = {
        get: profiles.GetRequest.fromPartial({ customerId: long }),
        upsert: profiles.UpsertRequest.fromPartial({ customerId: long }),
        history: profiles.HistoryRequest.fromPartial({ customerId: long }),
        delete: profiles.DeleteRequest.fromPartial({ customerId: long }),
      };
      for (const [method, request] of Object.entries(requests)) {
        await assert.rejects(
          call(h.client, method as keyof typeof requests, request),
          (err: grpc.ServiceError) => {
            assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `${method}: ${err.details}`);
            assert.equal(err.details, 'customer_id: at most 128 characters, got 8192');
            return true;
          },
        );
      }
      const missing = 'm'.repeat(128);
      await assert.rejects(call(h.client, 'get', { customerId: missing }), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.NOT_FOUND);
        assert.equal(err.details, `profile of customer '${'m'.repeat(64)}…' (128 characters) not found`);
        return true;
      });
    });

    it('bounds the identifiers of a recorded communication', async () => {
      const request = profiles.RecordCommunicationRequest.fromPartial({
        customerId: 'c-comm',
        communication: { actionId: 'a'.repeat(200), channel: 'email', status: 'sent' },
      });
      await assert.rejects(call(h.client, 'recordCommunication', request), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        assert.equal(err.details, 'communication.action_id: at most 128 characters, got 200');
        return true;
      });
    });

    it('cuts echoed input in field errors: a time zone, a date, a trait key', async () => {
      const cases: Array<[Partial<profiles.UpsertRequest>, string]> = [
        [
          { timeZone: 'Z'.repeat(8192) },
          `time_zone: unknown IANA time zone '${'Z'.repeat(64)}…' (8192 characters)`,
        ],
        [
          { dates: { birthday: '9'.repeat(300) } },
          `dates.birthday: expected an ISO date YYYY-MM-DD, got '${'9'.repeat(64)}…' (300 characters)`,
        ],
        [
          { traits: { [`a.${'k'.repeat(5000)}`]: 1 } },
          `traits.a.${'k'.repeat(62)}…: trait names must be non-empty, without '.', NUL or a leading '$'`,
        ],
      ];
      for (const [fields, details] of cases) {
        const request = profiles.UpsertRequest.fromPartial({ customerId: 'c-echo', ...fields });
        await assert.rejects(call(h.client, 'upsert', request), (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
          assert.equal(err.details, details);
          return true;
        });
      }
    });

    it('refuses to create a profile whose id breaks the identifier rules events follow', async () => {
      await assert.rejects(
        call(h.client, 'upsert', profiles.UpsertRequest.fromPartial({ customerId: 'a b' })),
        (err: grpc.ServiceError) =>
          err.code === grpc.status.INVALID_ARGUMENT &&
          err.details ===
            'customer_id: must not contain whitespace or control characters, found one at index 1',
      );
    });
  });
});
