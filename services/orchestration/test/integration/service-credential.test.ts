import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { profiles } from '@kairos/contracts';
import {
  AccessControl,
  createLogger,
  GrpcServer,
  loadClientSecurity,
  type ServerSecurity,
} from '@kairos/service-kit';
import { makeTempDir, makeTestPki } from '@kairos/testkit';
import { GrpcProfileGateway } from '../../src/profiles';

const SERVICE_TOKEN = 'orchestration-service-token-0123';
const logger = createLogger('service-credential-test', 'silent');

/** A ProfileService whose lookups need a service credential, as enrichment's do. */
async function profileServer(security: ServerSecurity): Promise<{ server: GrpcServer; addr: string }> {
  const server = new GrpcServer(logger, security);
  const impl = {
    get: (call: grpc.ServerUnaryCall<profiles.GetRequest, unknown>, cb: grpc.sendUnaryData<unknown>) =>
      cb(null, { profile: profiles.Profile.fromPartial({ customerId: call.request.customerId }) }),
  };
  server.addService(profiles.ProfileServiceService, impl, 'kairos.profiles.v1.ProfileService', {
    get: 'service',
    history: 'service',
  });
  return { server, addr: `127.0.0.1:${await server.start(0, '127.0.0.1')}` };
}

describe("orchestration's profile lookups carry the service credential", function () {
  this.timeout(30_000);
  const dir = makeTempDir('orchestration-credential');
  const tokenFile = join(dir, 'service-token');
  writeFileSync(tokenFile, `${SERVICE_TOKEN}\n`);

  it('sends the first token of KAIROS_SERVICE_TOKEN_FILE; without it the lookup falls back', async () => {
    const { server, addr } = await profileServer({
      access: new AccessControl({ serviceTokens: [SERVICE_TOKEN] }),
    });
    const withToken = new GrpcProfileGateway(
      addr,
      2_000,
      loadClientSecurity({ KAIROS_SERVICE_TOKEN_FILE: tokenFile }),
    );
    const without = new GrpcProfileGateway(addr, 2_000);
    try {
      const ok = await withToken.lookup('c-1', Date.now() - 1_000);
      assert.equal(ok.profile?.customerId, 'c-1');
      assert.deepEqual(ok.fallbacks, []);
      const refused = await without.lookup('c-1', Date.now() - 1_000);
      assert.equal(refused.profile, undefined);
      assert.match(
        refused.fallbacks[0],
        /^profile: 16 UNAUTHENTICATED: .*ProfileService\/Get needs the admin or a service credential/,
      );
    } finally {
      withToken.close();
      without.close();
      await server.shutdown(100);
    }
  });

  it('under mTLS, its certificate is its identity (KAIROS_SERVICE_IDENTITIES), no token needed', async () => {
    const pki = makeTestPki();
    const serverCert = pki.issue('enrichment');
    const own = pki.issue('orchestration');
    const { server, addr } = await profileServer({
      tls: pki.serverTls(serverCert, { grpc: true }),
      access: new AccessControl({ serviceIdentities: ['orchestration'] }),
    });
    const gateway = new GrpcProfileGateway(
      addr,
      2_000,
      loadClientSecurity({
        KAIROS_TLS_CA_FILE: pki.caFile,
        KAIROS_TLS_CERT_FILE: own.certFile,
        KAIROS_TLS_KEY_FILE: own.keyFile,
      }),
    );
    try {
      const ok = await gateway.lookup('c-2', Date.now() - 1_000);
      assert.equal(ok.profile?.customerId, 'c-2');
      assert.deepEqual(ok.fallbacks, []);
    } finally {
      gateway.close();
      await server.shutdown(100);
    }
  });
});
