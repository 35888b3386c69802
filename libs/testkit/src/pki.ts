import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './tempdir';

/** A certificate and its key, as files and as PEM bytes. */
export interface TestCert {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

/** A throwaway certificate authority made with openssl for one test run. */
export interface TestPki {
  caFile: string;
  ca: Buffer;
  /** A certificate for `cn`, valid for 127.0.0.1 and localhost, as a server and as a client. */
  issue(cn: string): TestCert;
  /**
   * A server's TLS settings (service-kit's ServerTls) with `cert` and this CA; `mtls.grpc` and
   * `mtls.http` require client certificates.
   */
  serverTls(cert: TestCert, mtls?: { grpc?: boolean; http?: boolean }): TestServerTls;
}

/** The shape of service-kit's ServerTls (testkit does not depend on service-kit). */
export interface TestServerTls {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  requireClientCert: boolean;
  httpRequireClientCert: boolean;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * A CA (P-256, valid one day) in a temporary directory; `issue` signs leaf certificates with
 * subjectAltName 127.0.0.1 and localhost and both server and client use.
 */
export function makeTestPki(name = 'kairos-test-ca'): TestPki {
  const dir = makeTempDir('pki');
  // prettier-ignore
  openssl(dir, ['req', '-x509', ...KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const caFile = join(dir, 'ca.pem');
  const ca = readFileSync(caFile);
  return {
    caFile,
    ca,
    serverTls: (cert, mtls = {}) => ({
      cert: cert.cert,
      key: cert.key,
      ca,
      requireClientCert: mtls.grpc ?? false,
      httpRequireClientCert: mtls.http ?? false,
    }),
    issue(cn: string): TestCert {
      const base = cn.replace(/[^A-Za-z0-9_-]/g, '_');
      const ext = join(dir, `${base}.ext`);
      writeFileSync(
        ext,
        'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n',
      );
      openssl(dir, ['req', ...KEY, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`]);
      // prettier-ignore
      openssl(dir, ['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
        '-out', `${base}.pem`, '-days', '1', '-extfile', ext]);
      const certFile = join(dir, `${base}.pem`);
      const keyFile = join(dir, `${base}.key`);
      return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
    },
  };
}
