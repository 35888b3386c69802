import { z } from 'zod';
import { partitionsOwnedBy } from '@kairos/contracts';

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

export const env = {
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

/** Validates `source` against the shape; throws ConfigError naming every bad variable. */
export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  source: NodeJS.ProcessEnv = process.env,
): z.output<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(source);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`));
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
  NATS_URL: env.url('nats://127.0.0.1:4222', ['nats', 'tls']),
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
