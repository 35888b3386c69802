import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectContainerRuntime, freePort, startMongo, startNats, useNats } from '../../src';

/** Runs `fn` with some environment variables replaced, restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('infrastructure resolution', () => {
  const nats = useNats({ ignoreEnv: true });

  it('reports no container runtime, within the detection budget, when DOCKER_HOST points at a closed port', async () => {
    const port = await freePort();
    const started = Date.now();
    const available = await withEnv(
      { DOCKER_HOST: `tcp://127.0.0.1:${port}`, KAIROS_TESTCONTAINERS: undefined },
      () => detectContainerRuntime(),
    );
    assert.equal(available, false);
    assert.ok(Date.now() - started < 5000, `detection took ${Date.now() - started} ms`);
  });

  it('reports no container runtime when KAIROS_TESTCONTAINERS=0, whatever DOCKER_HOST says', async () => {
    const available = await withEnv(
      { KAIROS_TESTCONTAINERS: '0', DOCKER_HOST: 'unix:///var/run/docker.sock' },
      () => detectContainerRuntime(),
    );
    assert.equal(available, false);
  });

  it('uses NATS_URL when set, and refuses to restart a server it does not own', async () => {
    const server = await withEnv({ NATS_URL: nats.url }, () => startNats());
    assert.equal(server.source, 'env');
    assert.equal(server.url, nats.url);
    await assert.rejects(server.restart(), /not supported for an external NATS_URL/);
    await server.dispose();
    assert.equal(nats.running, true);
  });

  it('fails with a pointer to scripts/install-tools.sh when no URL, runtime or binary is available', async () => {
    const emptyDir = mkdtempSync(join(tmpdir(), 'kt-empty-bin-'));
    try {
      await withEnv(
        {
          NATS_URL: undefined,
          MONGO_URL: undefined,
          PATH: emptyDir,
          KAIROS_BIN_DIR: emptyDir,
          KAIROS_TESTCONTAINERS: '0',
        },
        async () => {
          await assert.rejects(startNats(), /no NATS available[\s\S]*scripts\/install-tools\.sh/);
          await assert.rejects(
            startMongo(),
            /no MongoDB available[\s\S]*mongod \/ ferretdb[\s\S]*install-tools\.sh/,
          );
        },
      );
    } finally {
      rmSync(emptyDir, { recursive: true, force: true });
    }
  });
});
