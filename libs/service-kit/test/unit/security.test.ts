import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '@kairos/testkit';
import {
  AccessControl,
  bearerToken,
  certificateIdentities,
  ConfigError,
  loadConfig,
  loadServerSecurity,
  parseTokenFile,
  securityConfig,
} from '../../src';

const ADMIN = 'admin-token-0123456789';
const SERVICE = 'service-token-0123456789';

describe('security: credentials and who may call what', () => {
  const access = new AccessControl({
    adminTokens: [ADMIN],
    serviceTokens: [SERVICE],
    adminIdentities: ['ops'],
    serviceIdentities: ['orchestration'],
  });

  it('lets anyone call a public method', () => {
    assert.deepEqual(access.decide('public', 'x/Y', undefined), { ok: true, role: 'public' });
  });

  it('accepts the admin token or an admin identity on admin and service methods', () => {
    for (const need of ['admin', 'service'] as const) {
      assert.deepEqual(access.decide(need, 'x/Y', ADMIN), { ok: true, role: 'admin' });
      assert.deepEqual(access.decide(need, 'x/Y', undefined, ['ops']), { ok: true, role: 'admin' });
    }
  });

  it('accepts a service credential on service methods only (PERMISSION_DENIED on admin ones)', () => {
    assert.deepEqual(access.decide('service', 'x/Y', SERVICE), { ok: true, role: 'service' });
    assert.deepEqual(access.decide('service', 'x/Y', undefined, ['orchestration']), {
      ok: true,
      role: 'service',
    });
    const denied = access.decide('admin', 'p.S/Delete', SERVICE);
    assert.deepEqual(denied, {
      ok: false,
      code: 'permission_denied',
      message: 'p.S/Delete needs the admin credential; a service credential may not call it',
    });
  });

  it('answers unauthenticated without a credential or with an unknown token, naming what to send', () => {
    const none = access.decide('admin', 'p.S/Get', undefined);
    assert.equal(none.ok, false);
    assert.equal(!none.ok && none.code, 'unauthenticated');
    assert.match(
      !none.ok ? none.message : '',
      /^p\.S\/Get needs the admin credential: send metadata 'authorization: Bearer <token>'/,
    );
    const unknown = access.decide('service', 'p.S/Get', 'wrong-token-0123456789');
    assert.equal(!unknown.ok && unknown.code, 'unauthenticated');
    assert.match(
      !unknown.ok ? unknown.message : '',
      /admin or a service credential: the bearer token is not one/,
    );
  });

  it('names an unlisted client certificate (PERMISSION_DENIED)', () => {
    const d = access.decide('admin', 'p.S/Get', undefined, ['intruder']);
    assert.equal(!d.ok && d.code, 'permission_denied');
    assert.match(
      !d.ok ? d.message : '',
      /client certificate 'intruder' is not listed in KAIROS_ADMIN_IDENTITIES/,
    );
  });

  it('refuses admin and service methods when nothing is configured', () => {
    const closed = new AccessControl({});
    assert.equal(closed.adminConfigured, false);
    assert.equal(closed.decide('admin', 'x/Y', ADMIN).ok, false);
    assert.equal(closed.decide('service', 'x/Y', SERVICE).ok, false);
    assert.equal(closed.isAdminToken(ADMIN), false);
  });

  it('reads bearer tokens and certificate identities', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer  abc '), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerToken(undefined), undefined);
    assert.deepEqual(
      certificateIdentities({
        subject: { CN: 'ops' },
        subjectaltname: 'DNS:ops.kairos.svc, IP Address:127.0.0.1',
      } as never),
      ['ops', 'ops.kairos.svc'],
    );
    assert.deepEqual(certificateIdentities(undefined), []);
  });
});

describe('security settings: token files and TLS files', () => {
  const dir = makeTempDir('security-unit');
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const load = (env: Record<string, string>) => loadServerSecurity(loadConfig(securityConfig, env));
  const problems = (env: Record<string, string>) => {
    try {
      load(env);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    throw new Error('expected a ConfigError');
  };

  it('reads one token a line, skipping blank lines and comments (two tokens during a rotation)', () => {
    assert.deepEqual(parseTokenFile('V', `# rotated 2026-01\n${ADMIN}\n\n${SERVICE}  # old\n`), [
      ADMIN,
      SERVICE,
    ]);
    const sec = load({ KAIROS_ADMIN_TOKEN_FILE: file('two', `${ADMIN}\n${SERVICE}\n`) });
    assert.ok(sec.access.isAdminToken(ADMIN) && sec.access.isAdminToken(SERVICE));
    assert.equal(sec.tls, undefined);
  });

  it('refuses an empty token file, a short token and an unreadable file, naming the variable', () => {
    assert.deepEqual(problems({ KAIROS_ADMIN_TOKEN_FILE: file('empty', '# nothing\n') }), [
      'KAIROS_ADMIN_TOKEN_FILE: the file holds no token',
    ]);
    assert.deepEqual(problems({ KAIROS_SERVICE_TOKEN_FILE: file('short', 'abc\n') }), [
      'KAIROS_SERVICE_TOKEN_FILE: token 1 must be at least 16 characters without spaces',
    ]);
    assert.match(
      problems({ KAIROS_ADMIN_TOKEN_FILE: join(dir, 'missing') })[0],
      /^KAIROS_ADMIN_TOKEN_FILE: cannot read /,
    );
  });

  it('needs both the certificate and the key, and a CA for mTLS', () => {
    assert.deepEqual(problems({ KAIROS_TLS_CERT_FILE: file('c.pem', 'x') }), [
      'KAIROS_TLS_CERT_FILE and KAIROS_TLS_KEY_FILE: set both (TLS) or neither (plaintext)',
    ]);
    assert.match(
      problems({
        KAIROS_TLS_CERT_FILE: file('c.pem', 'x'),
        KAIROS_TLS_KEY_FILE: file('k.pem', 'x'),
        KAIROS_TLS_CLIENT_AUTH: 'true',
      })[0],
      /^KAIROS_TLS_CLIENT_AUTH: mTLS needs KAIROS_TLS_CA_FILE/,
    );
  });
});
