import { accessSync, constants, statSync } from 'node:fs';
import { z } from 'zod';
import { partitionsOwnedBy, PROVISION_MODES } from '@kairos/contracts';

/**
 * Configuration comes only from environment variables, validated at start. Every builder has a safe
 * default (so `pnpm start` needs no configuration) and an error message that names the expected
 * form; loadConfig prefixes it with the variable's name.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Raw = string | undefined;
const blank = (v: Raw) => v === undefined || v.trim() === '';

function custom<T>(parse: (v: string) => T | undefined, expected: string, def: T) {
  return z
    .string()
    .optional()
    .transform((v, ctx): T => {
      if (blank(v)) return def;
      const parsed = parse(v!.trim());
      if (parsed === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected ${expected}, got '${v}'` });
        return z.NEVER;
      }
      return parsed;
    });
}

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDurationMs(v: string): number | undefined {
  const m = DURATION.exec(v);
  return m ? Number(m[1]) * UNIT_MS[m[2]] : undefined;
}

const SIZE = /^(\d+)(B|KiB|MiB|GiB)?$/;
const UNIT_BYTES: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

export function parseBytes(v: string): number | undefined {
  const m = SIZE.exec(v);
  return m ? Number(m[1]) * UNIT_BYTES[m[2] ?? 'B'] : undefined;
}

function readableFile(path: string): string | undefined {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile() ? path : undefined;
  } catch {
    return undefined;
  }
}

export const env = {
  /** A value `parse` accepts (undefined refuses it, saying `expected`); `def` when unset. */
  custom,
  /** An optional path of a readable file (secrets come from mounted files, not from env values). */
  file: () => custom<string | undefined>(readableFile, 'the path of a readable file', undefined),
  string: (def: string) => custom((v) => v, 'a non-empty string', def),
  optionalString: () => custom<string | undefined>((v) => v, 'a string', undefined),
  int: (def: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) =>
    custom(
      (v) => (/^-?\d+$/.test(v) && Number(v) >= min && Number(v) <= max ? Number(v) : undefined),
      `an integer from ${min} to ${max}`,
      def,
    ),
  number: (def: number, min = -Infinity, max = Infinity) =>
    custom(
      (v) =>
        v !== '' && Number.isFinite(Number(v)) && Number(v) >= min && Number(v) <= max
          ? Number(v)
          : undefined,
      `a number from ${min} to ${max}`,
      def,
    ),
  port: (def: number) =>
    custom(
      (v) => (/^\d+$/.test(v) && Number(v) >= 0 && Number(v) <= 65535 ? Number(v) : undefined),
      'a port number from 0 to 65535',
      def,
    ),
  bool: (def: boolean) =>
    custom(
      (v) => (/^(true|1|yes)$/i.test(v) ? true : /^(false|0|no)$/i.test(v) ? false : undefined),
      'true or false',
      def,
    ),
  url: (def: string, protocols: string[]) =>
    custom(
      (v) => {
        const parts = v.split(',').map((s) => s.trim());
        return parts.every((p) => protocols.some((proto) => p.startsWith(`${proto}://`))) ? v : undefined;
      },
      `a URL starting with ${protocols.map((p) => `${p}://`).join(' or ')}`,
      def,
    ),
  duration: (def: string) =>
    custom((v) => parseDurationMs(v), 'a duration like 500ms, 30s, 5m, 1h or 7d', parseDurationMs(def)!),
  bytes: (def: string) =>
    custom((v) => parseBytes(v), 'a size like 65536, 512KiB, 256MiB or 2GiB', parseBytes(def)!),
  enumOf: <T extends string>(values: readonly T[], def: T) =>
    custom((v) => (values.includes(v as T) ? (v as T) : undefined), `one of ${values.join(', ')}`, def),
  list: (def: string[]) =>
    custom(
      (v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      'a comma-separated list',
      def,
    ),
};

/**
 * How a process reaches NATS. The URL carries no secret: credentials come from files (a mounted
 * Secret), read again at every reconnect, so a rotated file takes effect without a restart.
 */
export const natsConfig = {
  NATS_URL: custom(
    (v) => (v.split(',').every((p) => /^(nats|tls):\/\/[^/@\s]+\/?$/.test(p.trim())) ? v : undefined),
    'a URL starting with nats:// or tls://, without credentials (see NATS_USER and NATS_*_FILE)',
    'nats://127.0.0.1:4222',
  ),
  /** The NATS user, with NATS_PASSWORD_FILE; a service's own name in the generated authorization. */
  NATS_USER: env.optionalString(),
  NATS_PASSWORD_FILE: env.file(),
  NATS_TOKEN_FILE: env.file(),
  /** An nkey seed file (`SU...`): the server holds only the public key. */
  NATS_NKEY_FILE: env.file(),
  /** A `.creds` file (JWT and nkey seed), for servers in operator mode. */
  NATS_CREDS_FILE: env.file(),
  /** TLS: the CA of the server's certificate (PEM); setting it (or a tls:// URL) turns TLS on. */
  NATS_TLS_CA: env.file(),
  /** TLS client certificate and key (PEM), for servers that verify clients: both or neither. */
  NATS_TLS_CERT: env.file(),
  NATS_TLS_KEY: env.file(),
};
export type NatsConfig = z.output<z.ZodObject<typeof natsConfig>>;

/** The problems of NATS settings that no single variable shows, one line each. */
export function natsSettingsProblems(c: Partial<Record<keyof NatsConfig, unknown>>): string[] {
  const problems: string[] = [];
  const ways = (
    ['NATS_PASSWORD_FILE', 'NATS_TOKEN_FILE', 'NATS_NKEY_FILE', 'NATS_CREDS_FILE'] as const
  ).filter((k) => c[k]);
  if (ways.length > 1) problems.push(`${ways.join(', ')}: set one way to authenticate, not ${ways.length}`);
  if (c.NATS_PASSWORD_FILE && !c.NATS_USER) problems.push('NATS_USER: required with NATS_PASSWORD_FILE');
  if (c.NATS_USER && !c.NATS_PASSWORD_FILE) problems.push('NATS_PASSWORD_FILE: required with NATS_USER');
  if (!c.NATS_TLS_CERT !== !c.NATS_TLS_KEY) problems.push('NATS_TLS_CERT, NATS_TLS_KEY: set both or neither');
  return problems;
}

/**
 * Validates `source` against the shape; throws ConfigError naming every bad variable (and, for a
 * shape with the NATS settings, their combinations).
 */
export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  source: NodeJS.ProcessEnv = process.env,
): z.output<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(source);
  if (!result.success)
    throw new ConfigError(result.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`));
  const problems = 'NATS_USER' in shape ? natsSettingsProblems(result.data as Partial<NatsConfig>) : [];
  if (problems.length) throw new ConfigError(problems);
  return result.data;
}

/**
 * The settings of transport security and of the admin and service credentials. They are part of
 * every service's settings (commonConfig); tools that call services read the client half.
 */
export const securityConfig = {
  /** PEM certificate chain and key the gRPC and HTTP servers present; set both to turn TLS on. */
  KAIROS_TLS_CERT_FILE: env.optionalString(),
  KAIROS_TLS_KEY_FILE: env.optionalString(),
  /**
   * PEM bundle of the CA(s) that sign the mesh's certificates: it verifies client certificates
   * (mTLS) and the servers this process calls (outgoing gRPC uses TLS when it is set).
   */
  KAIROS_TLS_CA_FILE: env.optionalString(),
  /** gRPC clients must present a certificate signed by KAIROS_TLS_CA_FILE (mTLS). */
  KAIROS_TLS_CLIENT_AUTH: env.bool(false),
  /** HTTP clients must present one too (then probes must use exec or TCP checks). */
  KAIROS_HTTP_TLS_CLIENT_AUTH: env.bool(false),
  /** File of admin bearer tokens, one a line (two during a rotation); `#` starts a comment. */
  KAIROS_ADMIN_TOKEN_FILE: env.optionalString(),
  /** mTLS client identities (certificate CN or DNS name) that act as admin. */
  KAIROS_ADMIN_IDENTITIES: env.list([]),
  /**
   * File of service tokens, one a line: services accept each for internal calls and send the
   * first on their own calls to other services.
   */
  KAIROS_SERVICE_TOKEN_FILE: env.optionalString(),
  /** mTLS client identities that act as a service (internal calls such as profile lookups). */
  KAIROS_SERVICE_IDENTITIES: env.list([]),
};
export type SecurityConfig = z.output<z.ZodObject<typeof securityConfig>>;

/** Variables every service reads. */
export const commonConfig = {
  ...natsConfig,
  /**
   * `self`: the service creates its streams, consumers, buckets and indexes at start; `external`:
   * the provisioning Job (tools/provision) did, and the service only binds to them, so its NATS
   * user and database role need no admin rights.
   */
  KAIROS_PROVISION: env.enumOf(PROVISION_MODES, 'self'),
  MONGO_URL: env.url('mongodb://127.0.0.1:27017', ['mongodb', 'mongodb+srv']),
  /** Unset: `kairos_<service>` (see databaseName). */
  MONGO_DB: env.optionalString(),
  KAIROS_PARTITIONS: env.int(16, 1, 1024),
  KAIROS_STREAM_REPLICAS: env.int(1, 1, 5),
  KAIROS_GRPC_PORT: env.port(0),
  KAIROS_HTTP_PORT: env.port(0),
  KAIROS_DRAIN_TIMEOUT: env.duration('20s'),
  /** StatefulSet ordinal and replica count: replica i of N owns partitions p % N == i. */
  KAIROS_REPLICA_ORDINAL: env.int(0, 0, 1023),
  KAIROS_REPLICAS: env.int(1, 1, 1024),
  LOG_LEVEL: env.enumOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info'),
  ...securityConfig,
};
export type CommonConfig = z.output<z.ZodObject<typeof commonConfig>>;

/**
 * The service's own database: MONGO_DB, else `kairos_<service>`. Services never share one: on
 * FerretDB's SQLite backend a database is one file with one writer at a time, and a shared one made
 * every service's writes queue behind the others'.
 */
export function databaseName(config: Pick<CommonConfig, 'MONGO_DB'>, service: string): string {
  return config.MONGO_DB ?? `kairos_${service.replace(/-/g, '_')}`;
}

/** The partitions this replica owns: `p % KAIROS_REPLICAS == KAIROS_REPLICA_ORDINAL`. */
export function ownedPartitions(
  config: Pick<CommonConfig, 'KAIROS_REPLICA_ORDINAL' | 'KAIROS_REPLICAS' | 'KAIROS_PARTITIONS'>,
): number[] {
  return partitionsOwnedBy(config.KAIROS_REPLICA_ORDINAL, config.KAIROS_REPLICAS, config.KAIROS_PARTITIONS);
}
