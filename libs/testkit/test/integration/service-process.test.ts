import { strict as assert } from 'node:assert';
import { get } from 'node:http';
import { join } from 'node:path';
import { freePort, startServiceProcess } from '../../src';

const fixture = (name: string): string => join(__dirname, '..', 'fixtures', `${name}.js`);

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('startServiceProcess', () => {
  it('fails with the exit code and the last log lines when the process exits before it is ready', async () => {
    const port = await freePort();
    await assert.rejects(
      startServiceProcess({
        name: 'exiter',
        script: fixture('exit-early'),
        readiness: { httpUrl: `http://127.0.0.1:${port}/ready` },
        readyTimeoutMs: 20_000,
      }),
      (err: Error) => {
        assert.match(err.message, /exiter exited with code 1 before becoming ready/);
        assert.match(err.message, /fatal: KT_REQUIRED_SETTING is missing/);
        assert.match(err.message, /fixture starting/);
        return true;
      },
    );
  });

  it('waits for an HTTP readiness URL, passes env, captures logs and returns the exit code on stop', async () => {
    const port = await freePort();
    const svc = await startServiceProcess({
      name: 'http-fixture',
      script: fixture('http-ready'),
      env: { KT_PORT: String(port), KT_GREETING: 'hi from env' },
      readiness: { httpUrl: `http://127.0.0.1:${port}/ready` },
    });
    try {
      assert.ok(svc.pid > 0);
      assert.equal(svc.running, true);
      assert.deepEqual(await httpGet(`http://127.0.0.1:${port}/ready`), { status: 200, body: 'hi from env' });
      assert.ok(svc.logs().includes(`listening on ${port}`), svc.logs().join('\n'));
    } finally {
      const code = await svc.stop();
      assert.equal(code, 0);
    }
    assert.equal(svc.running, false);
    assert.ok(svc.logs().includes('draining'));
  });

  it('waits for gRPC health SERVING and kill() ends the process', async () => {
    const port = await freePort();
    const svc = await startServiceProcess({
      name: 'grpc-fixture',
      script: fixture('grpc-health'),
      env: { KT_PORT: String(port) },
      readiness: { grpcPort: port },
    });
    assert.equal(await svc.waitForLog('grpc up'), 'grpc up');
    await svc.kill();
    assert.equal(svc.running, false);
  });

  it('fails after the deadline with the last log lines when readiness never succeeds', async () => {
    const port = await freePort();
    const otherPort = await freePort();
    await assert.rejects(
      startServiceProcess({
        name: 'never-ready',
        script: fixture('http-ready'),
        env: { KT_PORT: String(port) },
        readiness: { httpUrl: `http://127.0.0.1:${otherPort}/ready` },
        readyTimeoutMs: 1_500,
      }),
      (err: Error) => {
        assert.match(err.message, /timed out after 1500 ms waiting for never-ready to be ready/);
        assert.match(err.message, new RegExp(`listening on ${port}`));
        return true;
      },
    );
  });
});
