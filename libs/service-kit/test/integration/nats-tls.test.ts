import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, natsAuthOptions, silentLogger } from '@kairos/messaging';
import { useNats } from '@kairos/testkit';
import { commonConfig, loadConfig } from '../../src/config';

/** A throw-away CA, and a server and a client certificate it signed (openssl). */
function makePki(): Record<
  'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'otherCa',
  string
> {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-nats-tls-'));
  const p = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) =>
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.pem`),
    );
  ca('ca');
  ca('other-ca');
  const leaf = (name: string, ext: string) => {
    writeFileSync(p(`${name}.ext`), ext);
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.csr`),
    );
    ssl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      p(`${name}.ext`),
      '-out',
      p(`${name}.pem`),
    );
  };
  leaf('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    otherCa: p('other-ca.pem'),
  };
}

describe('NATS over TLS with a private CA and client certificates (NATS_TLS_*)', function () {
  this.timeout(60_000);
  const pki = makePki();
  const nats = useNats({
    config: `tls {\n  cert_file: "${pki.serverCert}"\n  key_file: "${pki.serverKey}"\n  ca_file: "${pki.ca}"\n  verify: true\n  timeout: 2\n}\n`,
    client: { tls: { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey } },
  });

  const connectWith = (env: NodeJS.ProcessEnv) => {
    const config = loadConfig(commonConfig, { NATS_URL: nats.url, ...env });
    return connectNats({
      servers: config.NATS_URL,
      name: 'tls-test',
      logger: silentLogger,
      connectTimeoutMs: 1_000,
      ...natsAuthOptions(config),
    });
  };

  it('connects with the CA and a client certificate from files, and JetStream answers', async () => {
    const nc = await connectWith({
      NATS_TLS_CA: pki.ca,
      NATS_TLS_CERT: pki.clientCert,
      NATS_TLS_KEY: pki.clientKey,
    });
    try {
      // A fresh server: JetStream answers, with no stream yet.
      assert.equal((await (await jetstreamManager(nc)).getAccountInfo()).streams, 0);
    } finally {
      await nc.close();
    }
  });

  it('refuses a server whose certificate another CA signed, and a client without a certificate', async () => {
    await assert.rejects(
      connectWith({ NATS_TLS_CA: pki.otherCa, NATS_TLS_CERT: pki.clientCert, NATS_TLS_KEY: pki.clientKey }),
      /cannot connect to NATS/,
    );
    await assert.rejects(connectWith({ NATS_TLS_CA: pki.ca }), /cannot connect to NATS/);
  });
});
