import assert from 'node:assert/strict';
import https from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { profiles } from '@kairos/contracts';
import { grpcFailure, makeTestPki, RawGrpcClient, type TestCert, type TestPki } from '@kairos/testkit';
import {
  AccessControl,
  callMetadata,
  channelCredentials,
  createLogger,
  GrpcServer,
  HttpServer,
  type ServerTls,
} from '../../src';

const GET = '/kairos.profiles.v1.ProfileService/Get';
const DELETE = '/kairos.profiles.v1.ProfileService/Delete';
const CHECK = '/grpc.health.v1.Health/Check';
const ADMIN = 'tls-test-admin-token-0123';
const logger = createLogger('tls-test', 'silent');

/** A ProfileService whose Get and Delete answer NOT_FOUND: reaching the handler is the success. */
const impl = {
  get: (_: unknown, cb: grpc.sendUnaryData<unknown>) =>
    cb({ code: grpc.status.NOT_FOUND, details: 'handled' }),
  delete: (_: unknown, cb: grpc.sendUnaryData<unknown>) =>
    cb({ code: grpc.status.NOT_FOUND, details: 'handled' }),
};

async function startServer(tls: ServerTls): Promise<{ server: GrpcServer; address: string }> {
  const access = new AccessControl({
    adminTokens: [ADMIN],
    adminIdentities: ['ops'],
    serviceIdentities: ['orchestration'],
  });
  const server = new GrpcServer(logger, { tls, access });
  server.addService(profiles.ProfileServiceService, impl, 'kairos.profiles.v1.ProfileService', {
    get: 'service',
  });
  return { server, address: `127.0.0.1:${await server.start(0, '127.0.0.1')}` };
}

const request = profiles.GetRequest.encode({ customerId: 'c-1' }).finish();

describe('GrpcServer over TLS and mTLS (a CA made at test time)', function () {
  this.timeout(30_000);
  let pki: TestPki;
  let rogue: TestPki;
  let serverCert: TestCert;

  before(() => {
    pki = makeTestPki();
    rogue = makeTestPki('rogue-ca');
    serverCert = pki.issue('enrichment');
  });

  describe('TLS', () => {
    let server: GrpcServer;
    let address: string;
    before(async () => {
      ({ server, address } = await startServer(pki.serverTls(serverCert)));
    });
    after(() => server.shutdown(100));

    it('serves a client that trusts the CA, and checks the bearer token over it', async () => {
      const client = new RawGrpcClient(address, channelCredentials({ tls: { ca: pki.ca } }));
      try {
        assert.ok((await client.unary(CHECK, new Uint8Array())).length > 0);
        const err = await grpcFailure(client.unary(DELETE, request, callMetadata({ token: ADMIN })));
        assert.equal(err.details, 'handled');
        const refused = await grpcFailure(client.unary(DELETE, request));
        assert.equal(refused.code, grpc.status.UNAUTHENTICATED);
      } finally {
        client.close();
      }
    });

    it('refuses a plaintext client', async () => {
      const client = new RawGrpcClient(address);
      try {
        const err = await grpcFailure(client.unary(CHECK, new Uint8Array()));
        assert.equal(err.code, grpc.status.UNAVAILABLE);
      } finally {
        client.close();
      }
    });

    it('is refused by a client that does not trust the CA', async () => {
      const client = new RawGrpcClient(address, channelCredentials({ tls: { ca: rogue.ca } }));
      try {
        assert.equal(
          (await grpcFailure(client.unary(CHECK, new Uint8Array()))).code,
          grpc.status.UNAVAILABLE,
        );
      } finally {
        client.close();
      }
    });
  });

  describe('mTLS', () => {
    let server: GrpcServer;
    let address: string;
    before(async () => {
      ({ server, address } = await startServer(pki.serverTls(serverCert, { grpc: true })));
    });
    after(() => server.shutdown(100));

    /** The call's outcome: OK, or the failure's code and details. */
    const call = async (path: string, cert?: TestCert) => {
      const client = new RawGrpcClient(
        address,
        channelCredentials({ tls: { ca: pki.ca, cert: cert?.cert, key: cert?.key } }),
      );
      try {
        await client.unary(path, path === CHECK ? new Uint8Array() : request);
        return { code: grpc.status.OK, details: '' };
      } catch (err) {
        return err as grpc.ServiceError;
      } finally {
        client.close();
      }
    };

    it('refuses a client without a certificate', async () => {
      assert.equal((await call(CHECK)).code, grpc.status.UNAVAILABLE);
    });

    it('refuses a client whose certificate another CA signed', async () => {
      assert.equal((await call(CHECK, rogue.issue('ops'))).code, grpc.status.UNAVAILABLE);
    });

    it('serves a client with a certificate of the CA', async () => {
      assert.equal((await call(CHECK, pki.issue('anyone'))).code, grpc.status.OK);
    });

    it("grants the certificate's identity its role: admin, service, or none (PERMISSION_DENIED)", async () => {
      assert.equal((await call(DELETE, pki.issue('ops'))).details, 'handled');
      assert.equal((await call(GET, pki.issue('orchestration'))).details, 'handled');
      const denied = await call(DELETE, pki.issue('orchestration'));
      assert.equal(denied.code, grpc.status.PERMISSION_DENIED);
      assert.match(denied.details, /needs the admin credential; a service credential may not call it/);
      const stranger = await call(DELETE, pki.issue('stranger'));
      assert.equal(stranger.code, grpc.status.PERMISSION_DENIED);
      assert.match(
        stranger.details,
        /client certificate 'stranger' is not listed in KAIROS_ADMIN_IDENTITIES/,
      );
    });
  });

  describe('HttpServer', () => {
    const get = (port: number, options: https.RequestOptions) =>
      new Promise<number>((resolve, reject) => {
        const req = https.get({ host: '127.0.0.1', port, path: '/healthz', ...options }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
      });

    it('serves HTTPS to a client that trusts the CA and refuses plain HTTP', async () => {
      const http = new HttpServer(logger, pki.serverTls(serverCert));
      const port = await http.start(0, '127.0.0.1');
      try {
        assert.equal(await get(port, { ca: pki.ca }), 200);
        await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
      } finally {
        await http.close();
      }
    });

    it('under mTLS, refuses a client without a certificate and serves one with', async () => {
      const http = new HttpServer(logger, pki.serverTls(serverCert, { http: true }));
      const port = await http.start(0, '127.0.0.1');
      try {
        await assert.rejects(get(port, { ca: pki.ca }));
        const client = pki.issue('browser');
        assert.equal(await get(port, { ca: pki.ca, cert: client.cert, key: client.key }), 200);
      } finally {
        await http.close();
      }
    });
  });
});
