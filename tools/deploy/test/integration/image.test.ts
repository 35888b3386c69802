import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { get } from 'node:http';
import { credentials, Metadata } from '@grpc/grpc-js';
import { health } from '@kairos/contracts';
import { freePort, useNats, waitFor } from '@kairos/testkit';
import { ROOT, run } from '../../src/helm';

const { version } = JSON.parse(readFileSync(join(ROOT, 'services/ingest/package.json'), 'utf8')) as {
  version: string;
};
const IMAGE = `kairos/ingest:${version}`;
const podmanAvailable = spawnSync('podman', ['--version']).status === 0;
/** scripts/build-images.sh installs Podman with apt-get as root (CI); elsewhere the test needs it present. */
const canInstallPodman = process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0;

function podman(args: string[]): { status: number; out: string } {
  const r = spawnSync('podman', args, { encoding: 'utf8' });
  return { status: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

function grpcStatus(port: number): Promise<health.HealthCheckResponse_ServingStatus> {
  const client = new health.HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.check({ service: '' }, new Metadata(), { deadline: Date.now() + 1000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res.status);
    });
  });
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

// Skipped only where Podman is absent and cannot be installed; CI gets it through scripts/build-images.sh.
(podmanAvailable || canInstallPodman ? describe : describe.skip)(
  'deploy: the service image (podman)',
  function () {
    this.timeout(120_000);
    const nats = useNats();
    const name = `kairos-image-test-${process.pid}`;

    before(function () {
      this.timeout(30 * 60_000); // the first build makes the Debian base and the workspace build stage
      const r = run('bash', ['scripts/build-images.sh', 'ingest']);
      assert.equal(r.status, 0, `scripts/build-images.sh ingest failed:\n${r.stderr.slice(-4000)}`);
    });
    after(() => {
      podman(['rm', '--force', '--time', '0', name]);
    });

    it('runs as a non-root user on a read-only root, answers gRPC health and /readyz, and drains on SIGTERM', async () => {
      const [grpcPort, httpPort] = [await freePort(), await freePort()];
      const started = podman([
        'run',
        '--detach',
        '--name',
        name,
        '--network=host',
        '--read-only',
        '--tmpfs',
        '/tmp',
        '--env',
        `NATS_URL=${nats.url}`,
        '--env',
        `KAIROS_GRPC_PORT=${grpcPort}`,
        '--env',
        `KAIROS_HTTP_PORT=${httpPort}`,
        IMAGE,
      ]);
      assert.equal(started.status, 0, started.out);
      try {
        await waitFor(
          async () => (await grpcStatus(grpcPort)) === health.HealthCheckResponse_ServingStatus.SERVING,
          {
            timeoutMs: 60_000,
            intervalMs: 250,
            message: 'gRPC health SERVING from the container',
          },
        );
      } catch (err) {
        throw new Error(
          `${(err as Error).message}\ncontainer logs:\n${podman(['logs', name]).out.slice(-3000)}`,
        );
      }
      assert.equal(await httpStatus(`http://127.0.0.1:${httpPort}/readyz`), 200);
      assert.equal(podman(['inspect', '--format', '{{.Config.User}}', name]).out.trim(), '10001:10001');

      // `podman stop` sends the image's stop signal (SIGTERM) to PID 1, which is node itself.
      const stopped = podman(['stop', '--time', '30', name]);
      assert.equal(stopped.status, 0, stopped.out);
      assert.equal(podman(['inspect', '--format', '{{.State.ExitCode}}', name]).out.trim(), '0');
      const logs = podman(['logs', name]).out;
      assert.match(logs, /"signal":"SIGTERM","msg":"draining"/);
      assert.match(logs, /"msg":"drained; bye"/);
    });
  },
);

if (!podmanAvailable && !canInstallPodman) {
  describe('deploy: the service image', () => {
    it('is skipped: podman is not installed (scripts/build-images.sh installs it as root on Debian)', function () {
      this.skip();
    });
  });
}
