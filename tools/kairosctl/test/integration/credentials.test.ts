import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { profiles } from '@kairos/contracts';
import { AccessControl, createLogger, GrpcServer, type ServerTls } from '@kairos/service-kit';
import { makeTempDir, makeTestPki } from '@kairos/testkit';
import { cli } from '../support';

const TOKEN = 'kairosctl-admin-token-0123456789';
const logger = createLogger('kairosctl-credentials-test', 'silent');

/** A ProfileService that answers Get for anyone the access control lets through. */
async function profileServer(tls?: ServerTls): Promise<{ server: GrpcServer; addr: string }> {
  const server = new GrpcServer(logger, { tls, access: new AccessControl({ adminTokens: [TOKEN] }) });
  const get = (call: grpc.ServerUnaryCall<profiles.GetRequest, unknown>, cb: grpc.sendUnaryData<unknown>) =>
    cb(null, { profile: profiles.Profile.fromPartial({ customerId: call.request.customerId }) });
  server.addService(profiles.ProfileServiceService, { get }, 'kairos.profiles.v1.ProfileService');
  return { server, addr: `127.0.0.1:${await server.start(0, '127.0.0.1')}` };
}

describe('kairosctl: the admin token and TLS toward the services', function () {
  this.timeout(30_000);
  const dir = makeTempDir('kairosctl-credentials');
  const tokenFile = join(dir, 'admin-token');
  writeFileSync(tokenFile, `# the admin token\n${TOKEN}\n`);

  describe('plaintext', () => {
    let server: GrpcServer;
    let addr: string;
    before(async () => ({ server, addr } = await profileServer()));
    after(() => server.shutdown(100));

    it('is refused without the admin token (exit 1 naming what is missing)', async () => {
      const r = await cli(['profile', 'c-1'], {
        KAIROS_PROFILE_ADDR: addr,
        KAIROS_ADMIN_TOKEN: 'x'.repeat(20),
      });
      assert.equal(r.code, 1);
      assert.match(
        r.err.join('\n'),
        /UNAUTHENTICATED: kairos\.profiles\.v1\.ProfileService\/Get needs the admin credential/,
      );
    });

    it('sends the token of KAIROS_ADMIN_TOKEN_FILE, or of KAIROS_ADMIN_TOKEN', async () => {
      const fromFile = await cli(['profile', 'c-1'], {
        KAIROS_PROFILE_ADDR: addr,
        KAIROS_ADMIN_TOKEN_FILE: tokenFile,
      });
      assert.equal(fromFile.code, 0, fromFile.err.join('\n'));
      assert.match(fromFile.out.join('\n'), /"customerId": "c-1"/);
      const fromEnv = await cli(['profile', 'c-1'], { KAIROS_PROFILE_ADDR: addr, KAIROS_ADMIN_TOKEN: TOKEN });
      assert.equal(fromEnv.code, 0, fromEnv.err.join('\n'));
    });

    it('says which file it cannot read', async () => {
      const r = await cli(['profile', 'c-1'], {
        KAIROS_PROFILE_ADDR: addr,
        KAIROS_ADMIN_TOKEN_FILE: join(dir, 'missing'),
      });
      assert.equal(r.code, 1);
      assert.match(r.err.join('\n'), /KAIROS_ADMIN_TOKEN_FILE: cannot read .*missing/);
    });
  });

  describe('mTLS', () => {
    const pki = makeTestPki();
    const serverCert = pki.issue('enrichment');
    const clientCert = pki.issue('ops');
    let server: GrpcServer;
    let addr: string;
    before(async () => ({ server, addr } = await profileServer(pki.serverTls(serverCert, { grpc: true }))));
    after(() => server.shutdown(100));

    it('connects with KAIROS_TLS_CA_FILE and a client certificate, and fails without the certificate', async () => {
      const env = {
        KAIROS_PROFILE_ADDR: addr,
        KAIROS_ADMIN_TOKEN_FILE: tokenFile,
        KAIROS_TLS_CA_FILE: pki.caFile,
      };
      const ok = await cli(['profile', 'c-1'], {
        ...env,
        KAIROS_TLS_CERT_FILE: clientCert.certFile,
        KAIROS_TLS_KEY_FILE: clientCert.keyFile,
      });
      assert.equal(ok.code, 0, ok.err.join('\n'));
      const noCert = await cli(['profile', 'c-1'], env);
      assert.equal(noCert.code, 3, noCert.err.join('\n'));
      const plaintext = await cli(['profile', 'c-1'], {
        KAIROS_PROFILE_ADDR: addr,
        KAIROS_ADMIN_TOKEN_FILE: tokenFile,
      });
      assert.equal(plaintext.code, 3);
    });
  });
});
