import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { ConfigError, channelCredentials, parseTokenFile, type ClientSecurity } from '@kairos/service-kit';
import { failed } from './errors';
import type { Io } from './io';

/**
 * The admin token the local runner (`pnpm start`) writes for this checkout, used when neither
 * KAIROS_ADMIN_TOKEN_FILE nor KAIROS_ADMIN_TOKEN is set.
 */
export const DEV_ADMIN_TOKEN_FILE = join(
  __dirname,
  '..',
  '..',
  '..',
  '..',
  '.kairos',
  'credentials',
  'admin-token',
);

function readFile(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw failed(`${variable}: cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * The admin token kairosctl sends (`authorization: Bearer`): the first token of
 * KAIROS_ADMIN_TOKEN_FILE, else KAIROS_ADMIN_TOKEN, else the local runner's file when it exists.
 * Never a command-line flag: arguments show in `ps` and shell history.
 */
export function adminToken(io: Io): string | undefined {
  const file = io.env.KAIROS_ADMIN_TOKEN_FILE;
  const fromFile = (variable: string, path: string) => {
    try {
      return parseTokenFile(variable, readFile(variable, path).toString('utf8'))[0];
    } catch (err) {
      if (err instanceof ConfigError) throw failed(err.problems.join('; '));
      throw err;
    }
  };
  if (file) return fromFile('KAIROS_ADMIN_TOKEN_FILE', file);
  if (io.env.KAIROS_ADMIN_TOKEN) return io.env.KAIROS_ADMIN_TOKEN.trim();
  if (existsSync(DEV_ADMIN_TOKEN_FILE)) return fromFile('the local runner token file', DEV_ADMIN_TOKEN_FILE);
  return undefined;
}

/**
 * TLS toward the services: on when KAIROS_TLS_CA_FILE names the CA that signs their certificates;
 * KAIROS_TLS_CERT_FILE and KAIROS_TLS_KEY_FILE add a client certificate (mTLS identity).
 */
export function grpcCredentials(io: Io): ChannelCredentials {
  const ca = io.env.KAIROS_TLS_CA_FILE;
  if (!ca) return channelCredentials({});
  const cert = io.env.KAIROS_TLS_CERT_FILE;
  const key = io.env.KAIROS_TLS_KEY_FILE;
  if (!!cert !== !!key) throw failed('KAIROS_TLS_CERT_FILE and KAIROS_TLS_KEY_FILE: set both or neither');
  const tls: ClientSecurity['tls'] = {
    ca: readFile('KAIROS_TLS_CA_FILE', ca),
    cert: cert ? readFile('KAIROS_TLS_CERT_FILE', cert) : undefined,
    key: key ? readFile('KAIROS_TLS_KEY_FILE', key) : undefined,
  };
  return channelCredentials({ tls });
}
