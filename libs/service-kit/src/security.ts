import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { ConfigError, type SecurityConfig } from './config';

/**
 * Who may call a method: anyone (`public`: the method authenticates callers itself, as ingest's
 * API keys do), a service or an admin (`service`), or only an admin (`admin`).
 */
export type Access = 'public' | 'service' | 'admin';

/** The TLS material of a server, read from the files the settings name. */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  /** gRPC refuses clients without a certificate signed by `ca`. */
  requireClientCert: boolean;
  /** HTTP refuses them too. */
  httpRequireClientCert: boolean;
}

/** The outcome of checking a caller against a method's access. */
export type AccessDecision =
  { ok: true; role: Access } | { ok: false; code: 'unauthenticated' | 'permission_denied'; message: string };

/** Minimum token length: a token is a secret, not a password someone types. */
export const MIN_TOKEN_LENGTH = 16;

function readSetting(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError([`${variable}: cannot read ${path}: ${(err as Error).message}`]);
  }
}

/** The tokens of a token file: one a line, blank lines and `#` comments skipped. */
export function parseTokenFile(variable: string, text: string): string[] {
  const tokens = text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter(Boolean);
  const problems: string[] = [];
  if (tokens.length === 0) problems.push(`${variable}: the file holds no token`);
  tokens.forEach((t, i) => {
    if (t.length < MIN_TOKEN_LENGTH || /\s/.test(t))
      problems.push(
        `${variable}: token ${i + 1} must be at least ${MIN_TOKEN_LENGTH} characters without spaces`,
      );
  });
  if (problems.length) throw new ConfigError(problems);
  return tokens;
}

function readTokens(variable: string, path: string | undefined): string[] {
  return path ? parseTokenFile(variable, readSetting(variable, path).toString('utf8')) : [];
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** The bearer token of `authorization: Bearer <token>`, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const m = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return m ? m[1] : undefined;
}

/** The names a verified client certificate stands for: its subject CN and its DNS names. */
export function certificateIdentities(cert: PeerCertificate | undefined): string[] {
  if (!cert || !cert.subject) return [];
  const names: string[] = [];
  const cn = cert.subject.CN as string | string[] | undefined;
  if (cn) names.push(...(Array.isArray(cn) ? cn : [cn]));
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const m = /^\s*DNS:(.+)$/.exec(part);
    if (m) names.push(m[1].trim());
  }
  return names;
}

/**
 * Decides whether a caller may call a method: by bearer token (admin or service tokens, compared
 * by their sha256) or by the identity of a client certificate the TLS handshake verified (mTLS).
 * With nothing configured, admin and service methods are refused: a server never opens them by
 * default.
 */
export class AccessControl {
  private readonly admin: Set<string>;
  private readonly service: Set<string>;
  private readonly adminIds: Set<string>;
  private readonly serviceIds: Set<string>;

  constructor(options: {
    adminTokens?: string[];
    serviceTokens?: string[];
    adminIdentities?: string[];
    serviceIdentities?: string[];
  }) {
    this.admin = new Set((options.adminTokens ?? []).map(digest));
    this.service = new Set((options.serviceTokens ?? []).map(digest));
    this.adminIds = new Set(options.adminIdentities ?? []);
    this.serviceIds = new Set(options.serviceIdentities ?? []);
  }

  /** Whether any admin credential is configured (a token or an identity). */
  get adminConfigured(): boolean {
    return this.admin.size > 0 || this.adminIds.size > 0;
  }

  /** Whether `token` is one of the admin tokens. */
  isAdminToken(token: string | undefined): boolean {
    return token !== undefined && this.admin.has(digest(token));
  }

  /**
   * The decision for a caller of `what` (a method's name) needing `need`, from its bearer token
   * and the identities of its verified client certificate.
   */
  decide(need: Access, what: string, token: string | undefined, identities: string[] = []): AccessDecision {
    if (need === 'public') return { ok: true, role: 'public' };
    const hash = token === undefined ? undefined : digest(token);
    const isAdmin =
      (hash !== undefined && this.admin.has(hash)) || identities.some((id) => this.adminIds.has(id));
    if (isAdmin) return { ok: true, role: 'admin' };
    const isService =
      (hash !== undefined && this.service.has(hash)) || identities.some((id) => this.serviceIds.has(id));
    if (isService && need === 'service') return { ok: true, role: 'service' };
    if (isService) {
      return {
        ok: false,
        code: 'permission_denied',
        message: `${what} needs the admin credential; a service credential may not call it`,
      };
    }
    if (token !== undefined) {
      return {
        ok: false,
        code: 'unauthenticated',
        message: `${what} needs the ${need === 'admin' ? 'admin' : 'admin or a service'} credential: the bearer token is not one`,
      };
    }
    if (identities.length > 0) {
      return {
        ok: false,
        code: 'permission_denied',
        message: `${what} needs the ${need} credential: client certificate '${identities[0]}' is not listed in KAIROS_${need === 'admin' ? 'ADMIN' : 'SERVICE'}_IDENTITIES`,
      };
    }
    return {
      ok: false,
      code: 'unauthenticated',
      message: `${what} needs the ${need === 'admin' ? 'admin' : 'admin or a service'} credential: send metadata 'authorization: Bearer <token>' or an mTLS client certificate`,
    };
  }
}

/** What a server runs with: its TLS material (none: plaintext) and its access control. */
export interface ServerSecurity {
  tls?: ServerTls;
  access: AccessControl;
}

/**
 * Reads the files the security settings name; a missing pair, an unreadable file or a bad token
 * is a ConfigError naming the variable.
 */
export function loadServerSecurity(config: SecurityConfig): ServerSecurity {
  const problems: string[] = [];
  if (!!config.KAIROS_TLS_CERT_FILE !== !!config.KAIROS_TLS_KEY_FILE)
    problems.push('KAIROS_TLS_CERT_FILE and KAIROS_TLS_KEY_FILE: set both (TLS) or neither (plaintext)');
  const clientAuth = config.KAIROS_TLS_CLIENT_AUTH || config.KAIROS_HTTP_TLS_CLIENT_AUTH;
  if (clientAuth && (!config.KAIROS_TLS_CA_FILE || !config.KAIROS_TLS_CERT_FILE))
    problems.push(
      'KAIROS_TLS_CLIENT_AUTH: mTLS needs KAIROS_TLS_CA_FILE and the server certificate (KAIROS_TLS_CERT_FILE)',
    );
  if (problems.length) throw new ConfigError(problems);
  const ca = config.KAIROS_TLS_CA_FILE
    ? readSetting('KAIROS_TLS_CA_FILE', config.KAIROS_TLS_CA_FILE)
    : undefined;
  const tls: ServerTls | undefined = config.KAIROS_TLS_CERT_FILE
    ? {
        cert: readSetting('KAIROS_TLS_CERT_FILE', config.KAIROS_TLS_CERT_FILE),
        key: readSetting('KAIROS_TLS_KEY_FILE', config.KAIROS_TLS_KEY_FILE!),
        ca,
        requireClientCert: config.KAIROS_TLS_CLIENT_AUTH,
        httpRequireClientCert: config.KAIROS_HTTP_TLS_CLIENT_AUTH,
      }
    : undefined;
  const access = new AccessControl({
    adminTokens: readTokens('KAIROS_ADMIN_TOKEN_FILE', config.KAIROS_ADMIN_TOKEN_FILE),
    serviceTokens: readTokens('KAIROS_SERVICE_TOKEN_FILE', config.KAIROS_SERVICE_TOKEN_FILE),
    adminIdentities: config.KAIROS_ADMIN_IDENTITIES,
    serviceIdentities: config.KAIROS_SERVICE_IDENTITIES,
  });
  return { tls, access };
}

/** Settings a process needs to call another service: the CA, its own certificate and its token. */
export type ClientSecurityConfig = Partial<
  Pick<
    SecurityConfig,
    'KAIROS_TLS_CA_FILE' | 'KAIROS_TLS_CERT_FILE' | 'KAIROS_TLS_KEY_FILE' | 'KAIROS_SERVICE_TOKEN_FILE'
  >
>;

/** What a caller presents: TLS material (none: plaintext) and the bearer token it sends. */
export interface ClientSecurity {
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  token?: string;
}

/**
 * A service's outgoing security: TLS when KAIROS_TLS_CA_FILE is set (its own certificate, when
 * set, is its mTLS identity) and the first service token.
 */
export function loadClientSecurity(config: ClientSecurityConfig): ClientSecurity {
  const tls = config.KAIROS_TLS_CA_FILE
    ? {
        ca: readSetting('KAIROS_TLS_CA_FILE', config.KAIROS_TLS_CA_FILE),
        cert: config.KAIROS_TLS_CERT_FILE
          ? readSetting('KAIROS_TLS_CERT_FILE', config.KAIROS_TLS_CERT_FILE)
          : undefined,
        key: config.KAIROS_TLS_KEY_FILE
          ? readSetting('KAIROS_TLS_KEY_FILE', config.KAIROS_TLS_KEY_FILE)
          : undefined,
      }
    : undefined;
  const token = readTokens('KAIROS_SERVICE_TOKEN_FILE', config.KAIROS_SERVICE_TOKEN_FILE)[0];
  return { tls, token };
}
