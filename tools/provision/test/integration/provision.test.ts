import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { ALL_STREAMS } from '@kairos/contracts';
import { DEFINITIONS_BUCKET } from '@kairos/definitions';
import { CHECKPOINT_BUCKET } from '@kairos/pattern-detection';
import { silentLogger } from '@kairos/messaging';
import { databaseName } from '@kairos/service-kit';
import { useMongo, useNats } from '@kairos/testkit';
import { loadProvisionConfig } from '../../src/config';
import { provision } from '../../src/main';
import { SERVICE_PROVISIONING } from '../../src/services';

describe("provision (the charts' hook Job) against a real NATS and database", function () {
  this.timeout(60_000);
  const nats = useNats();
  const mongo = useMongo({ dbPrefix: 'prov' });
  let nc: NatsConnection;

  before(async () => {
    nc = await connect({ servers: nats.url });
  });
  after(async () => {
    await nc?.close();
  });

  it('creates every stream, bucket, consumer and index the services declare, and a second run changes nothing', async () => {
    const config = loadProvisionConfig({ NATS_URL: nats.url, MONGO_URL: mongo.url, KAIROS_PARTITIONS: '4' });
    const first = await provision(config, silentLogger);
    const jsm = await jetstreamManager(nc);
    const bucket = await jsm.streams.info(`KV_${DEFINITIONS_BUCKET}`);
    assert.equal(bucket.config.max_msgs_per_subject, 64);

    // Four partitions: enrichment, pattern-detection, orchestration, prediction have one each, and
    // one erase-command consumer each.
    const consumers = async () => {
      const names: string[] = [];
      for (const s of ALL_STREAMS)
        for await (const c of jsm.consumers.list(s.name)) names.push(`${s.name}/${c.name}`);
      return names.sort();
    };
    const created = await consumers();
    assert.deepEqual(created, [...first.consumers].sort());
    assert.equal(created.filter((c) => c.endsWith('-p03')).length, 8);
    assert.ok(created.includes('PRIVACY/pattern-detection-erase-p03'));
    assert.ok(created.includes('PRIVACY/analytics-erase'));
    assert.ok(created.includes('ACTIONS/delivery'));
    assert.ok(created.includes('EVENTS/analytics-events'));
    const enrichment = await jsm.consumers.info('EVENTS', 'enrichment-p02');
    assert.equal(enrichment.config.filter_subject, 'events.raw.2.>');

    const indexes = await mongo.client
      .db(databaseName({ MONGO_DB: undefined }, 'orchestration'))
      .collection('timers')
      .listIndexes()
      .toArray();
    assert.deepEqual(indexes.map((i) => Object.keys(i.key).join(',')).sort(), [
      '_id',
      'customerId',
      'partition,dueAt',
      'runId',
    ]);
    const declared = SERVICE_PROVISIONING.reduce((n, s) => n + s.indexes.length, 0);
    assert.equal(first.indexes, declared);

    const again = await provision(config, silentLogger);
    assert.deepEqual(again, first);
    assert.deepEqual(await consumers(), created);
    const streams: string[] = [];
    for await (const s of jsm.streams.list()) streams.push(s.config.name);
    assert.deepEqual(
      streams.sort(),
      [...ALL_STREAMS.map((s) => s.name), `KV_${DEFINITIONS_BUCKET}`, `KV_${CHECKPOINT_BUCKET}`].sort(),
    );
  });
});
