import assert from 'node:assert/strict';
import { AccessControl, createLogger, HttpServer, requireBearer } from '@kairos/service-kit';
import { runRoutes } from '../../src/http';
import type { RunStore, TimerStore } from '../../src/store';

describe('orchestration /runs routes: hostile paths and identifiers', function () {
  const server = new HttpServer(createLogger('runs-http-test', 'silent'));
  const asked: string[] = [];
  let base = '';

  before(async () => {
    const runs = {
      get: async (id: string) => {
        asked.push(id);
        return null;
      },
      forCustomer: async () => [],
    } as unknown as RunStore;
    const timers = { forRun: async () => [] } as unknown as TimerStore;
    server.addRoute(runRoutes(runs, timers));
    base = `http://127.0.0.1:${await server.start(0, '127.0.0.1')}`;
  });
  after(() => server.close());

  it('answers 400 to a malformed escape and to an overlong run id, without a lookup', async () => {
    const malformed = await fetch(`${base}/runs/%ff`);
    assert.equal(malformed.status, 400);
    const long = await fetch(`${base}/runs/${'r'.repeat(300)}`);
    assert.equal(long.status, 400);
    assert.deepEqual(await long.json(), { error: 'run id: at most 128 characters, got 300' });
    const customer = await fetch(`${base}/runs?customer=${'c'.repeat(200)}`);
    assert.equal(customer.status, 400);
    assert.deepEqual(asked, []);
  });

  it('quotes at most 64 characters of an unknown run id', async () => {
    const res = await fetch(`${base}/runs/${'u'.repeat(100)}`);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: `run '${'u'.repeat(64)}…' (100 characters) not found` });
  });

  it('answers 401 without the admin bearer token once guarded, and the run with it', async () => {
    const token = 'runs-admin-token-0123456789';
    const guarded = new HttpServer(createLogger('runs-http-test', 'silent'));
    const runs = { get: async () => null, forCustomer: async () => [] } as unknown as RunStore;
    const timers = { forRun: async () => [] } as unknown as TimerStore;
    guarded.addRoute(
      requireBearer(new AccessControl({ adminTokens: [token] }), 'admin', '/runs', runRoutes(runs, timers)),
    );
    const url = `http://127.0.0.1:${await guarded.start(0, '127.0.0.1')}/runs?customer=c-1`;
    try {
      const refused = await fetch(url);
      assert.equal(refused.status, 401);
      assert.deepEqual(await refused.json(), {
        error: '/runs needs the admin credential: send "authorization: Bearer <admin token>"',
      });
      assert.equal(
        (await fetch(url, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status,
        401,
      );
      const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      assert.deepEqual(await ok.json(), { runs: [] });
    } finally {
      await guarded.close();
    }
  });
});
