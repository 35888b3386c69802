import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { ALL_STREAMS } from '@kairos/contracts';
import { DEFINITIONS_BUCKET } from '@kairos/definitions';
import { silentLogger } from '@kairos/messaging';
import { useNats } from '@kairos/testkit';
import { loadProvisionConfig } from '../../src/config';
import { provision } from '../../src/main';

describe("provision (the charts' hook Job) against a real NATS", function () {
  const nats = useNats();
  let nc: NatsConnection;

  before(async () => {
    nc = await connect({ servers: nats.url });
  });
  after(async () => {
    await nc?.close();
  });

  it('creates every stream and the definitions bucket, and a second run changes nothing', async () => {
    const config = loadProvisionConfig({ NATS_URL: nats.url });
    await provision(config, silentLogger);
    const jsm = await jetstreamManager(nc);
    const bucket = await jsm.streams.info(`KV_${DEFINITIONS_BUCKET}`);
    assert.equal(bucket.config.max_msgs_per_subject, 64);

    await provision(config, silentLogger);
    const names: string[] = [];
    for await (const s of jsm.streams.list()) names.push(s.config.name);
    assert.deepEqual(names.sort(), [...ALL_STREAMS.map((s) => s.name), `KV_${DEFINITIONS_BUCKET}`].sort());
  });
});
