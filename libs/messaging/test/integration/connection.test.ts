import assert from 'node:assert/strict';
import { freePort, useNats } from '@kairos/testkit';
import { connectNats, natsServers, silentLogger } from '../../src';

describe('connectNats', function () {
  const nats = useNats({ ignoreEnv: true });

  it('splits a NATS_URL server list and connects to a live server in it, wherever it stands', async () => {
    const dead = `nats://127.0.0.1:${await freePort()}`;
    for (const servers of [`${dead}, ${nats.url}`, `${nats.url},${dead}`]) {
      const nc = await connectNats({
        servers,
        name: 'connection-test',
        logger: silentLogger,
        connectTimeoutMs: 1_000,
      });
      try {
        assert.equal(nc.isClosed(), false, servers);
      } finally {
        await nc.close();
      }
    }
  });

  it('reads a server list as its trimmed, non-empty URLs', () => {
    assert.deepEqual(natsServers(' nats://a:1 ,nats://b:2,, '), ['nats://a:1', 'nats://b:2']);
    assert.deepEqual(natsServers(['nats://a:1']), ['nats://a:1']);
  });
});
