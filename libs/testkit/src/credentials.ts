import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { makeTempDir } from './tempdir';

/** The admin and service tokens of a test run, and the files services read them from. */
export interface TestCredentials {
  adminToken: string;
  serviceToken: string;
  adminTokenFile: string;
  serviceTokenFile: string;
}

let current: TestCredentials | undefined;

/**
 * This test process's credentials, made on first use: service processes started by
 * startServiceProcess accept them (KAIROS_ADMIN_TOKEN_FILE, KAIROS_SERVICE_TOKEN_FILE) unless the
 * test's env sets those variables itself.
 */
export function testCredentials(): TestCredentials {
  if (current) return current;
  const dir = makeTempDir('credentials');
  const adminToken = `test-admin-${randomBytes(16).toString('hex')}`;
  const serviceToken = `test-service-${randomBytes(16).toString('hex')}`;
  const adminTokenFile = join(dir, 'admin-token');
  const serviceTokenFile = join(dir, 'service-token');
  writeFileSync(adminTokenFile, `${adminToken}\n`, { mode: 0o600 });
  writeFileSync(serviceTokenFile, `${serviceToken}\n`, { mode: 0o600 });
  current = { adminToken, serviceToken, adminTokenFile, serviceTokenFile };
  return current;
}

/** The environment that gives a service process the test credentials. */
export function credentialsEnv(): Record<string, string> {
  const c = testCredentials();
  return { KAIROS_ADMIN_TOKEN_FILE: c.adminTokenFile, KAIROS_SERVICE_TOKEN_FILE: c.serviceTokenFile };
}

/** gRPC metadata carrying the test admin token (`authorization: Bearer …`). */
export function adminMetadata(): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${testCredentials().adminToken}`);
  return md;
}

/** HTTP headers carrying the test admin token. */
export function adminHeaders(): Record<string, string> {
  return { authorization: `Bearer ${testCredentials().adminToken}` };
}
