import assert from 'node:assert/strict';
import { Metadata, status } from '@grpc/grpc-js';
import { adminHeaders, adminMetadata, grpcFailure, RawGrpcClient, testCredentials } from '@kairos/testkit';
import { Mesh } from '../src/mesh';

/** Every method of the mesh that needs a credential: its service process and who may call it. */
const METHODS: Array<{ service: string; path: string; access: 'admin' | 'service' }> = [
  ...['Get', 'BatchGet', 'History'].map((m) => ({
    service: 'enrichment',
    path: `/kairos.profiles.v1.ProfileService/${m}`,
    access: 'service' as const,
  })),
  ...['Upsert', 'RecordCommunication', 'Delete'].map((m) => ({
    service: 'enrichment',
    path: `/kairos.profiles.v1.ProfileService/${m}`,
    access: 'admin' as const,
  })),
  ...['Simulate', 'Explain'].map((m) => ({
    service: 'pattern-detection',
    path: `/kairos.triggers.v1.PatternService/${m}`,
    access: 'admin' as const,
  })),
  ...['Score', 'ModelReport'].map((m) => ({
    service: 'prediction',
    path: `/kairos.predictions.v1.PredictionService/${m}`,
    access: 'admin' as const,
  })),
  {
    service: 'prediction',
    path: '/kairos.predictions.v1.PredictionService/BestSendTime',
    access: 'service',
  },
  ...[
    'Volume',
    'Funnel',
    'Lift',
    'Timing',
    'Roi',
    'Reasons',
    'Attribution',
    'Outcomes',
    'TraceAttribution',
  ].map((m) => ({
    service: 'analytics',
    path: `/kairos.analytics.v1.AnalyticsService/${m}`,
    access: 'admin' as const,
  })),
];

const bearer = (token: string) => {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
};

/** The call's status code: OK, or the failure's code (a handler's own answer to an empty request). */
async function codeOf(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
    return { code: status.OK, details: '' };
  } catch (err) {
    const e = err as { code: number; details: string };
    return { code: e.code, details: e.details };
  }
}

describe('e2e: the admin credential guards every admin method of the mesh', function () {
  this.timeout(180_000);
  const mesh = new Mesh();
  const clients = new Map<string, RawGrpcClient>();
  const services = ['enrichment', 'pattern-detection', 'prediction', 'analytics', 'orchestration'];

  before(async () => {
    await mesh.startInfrastructure();
    for (const name of services) await mesh.startService(name);
    for (const name of services)
      clients.set(name, new RawGrpcClient(`127.0.0.1:${mesh.services.get(name)!.grpcPort}`));
  });
  after(async () => {
    for (const c of clients.values()) c.close();
    await mesh.stop();
  });

  it('refuses each method without a credential (UNAUTHENTICATED naming the method and the credential)', async () => {
    for (const m of METHODS) {
      const err = await grpcFailure(clients.get(m.service)!.unary(m.path, new Uint8Array()));
      assert.equal(err.code, status.UNAUTHENTICATED, `${m.path}: ${err.details}`);
      assert.ok(err.details.includes(m.path.slice(1)), err.details);
      assert.match(err.details, m.access === 'admin' ? /needs the admin credential/ : /admin or a service/);
    }
  });

  it('refuses an unknown bearer token (UNAUTHENTICATED)', async () => {
    for (const m of METHODS) {
      const err = await grpcFailure(
        clients.get(m.service)!.unary(m.path, new Uint8Array(), bearer('not-a-token-of-this-mesh')),
      );
      assert.equal(err.code, status.UNAUTHENTICATED, m.path);
      assert.match(err.details, /the bearer token is not one/);
    }
  });

  it('lets the service credential make internal lookups and nothing else (PERMISSION_DENIED)', async () => {
    const service = bearer(testCredentials().serviceToken);
    for (const m of METHODS) {
      const { code, details } = await codeOf(
        clients.get(m.service)!.unary(m.path, new Uint8Array(), service),
      );
      if (m.access === 'service') {
        assert.ok(
          ![status.UNAUTHENTICATED, status.PERMISSION_DENIED].includes(code),
          `${m.path}: ${details}`,
        );
      } else {
        assert.equal(code, status.PERMISSION_DENIED, m.path);
        assert.match(details, /needs the admin credential; a service credential may not call it/);
      }
    }
  });

  it('accepts the admin credential on every method', async () => {
    for (const m of METHODS) {
      const { code, details } = await codeOf(
        clients.get(m.service)!.unary(m.path, new Uint8Array(), adminMetadata()),
      );
      assert.ok(![status.UNAUTHENTICATED, status.PERMISSION_DENIED].includes(code), `${m.path}: ${details}`);
    }
  });

  it('leaves gRPC health open, so probes need no credential', async () => {
    for (const name of services) {
      const res = await clients.get(name)!.unary('/grpc.health.v1.Health/Check', new Uint8Array());
      assert.ok(res.length > 0);
    }
  });

  it("guards orchestration's /runs and the analytics dashboard (401 without the token, 200 with it)", async () => {
    const runs = `http://127.0.0.1:${mesh.services.get('orchestration')!.httpPort}/runs?customer=c-1`;
    const refused = await fetch(runs);
    assert.equal(refused.status, 401);
    assert.match(((await refused.json()) as { error: string }).error, /\/runs needs the admin credential/);
    assert.equal((await fetch(runs, { headers: adminHeaders() })).status, 200);

    const dashboard = `http://127.0.0.1:${mesh.services.get('analytics')!.httpPort}`;
    const api = await fetch(`${dashboard}/api/volume?period=24h`);
    assert.equal(api.status, 401);
    assert.match(((await api.json()) as { error: string }).error, /admin credential required/);
    const page = await fetch(`${dashboard}/`, { redirect: 'manual' });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/login');
    assert.equal(
      (await fetch(`${dashboard}/api/volume?period=24h`, { headers: adminHeaders() })).status,
      200,
    );
  });
});
