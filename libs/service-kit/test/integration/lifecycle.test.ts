import assert from 'node:assert/strict';
import { join } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import { events, health, SCHEMAS, STREAMS } from '@kairos/contracts';
import { connectNats, Publisher, silentLogger } from '@kairos/messaging';
import {
  freePort,
  startNats,
  startServiceProcess,
  waitFor,
  type NatsServer,
  type ServiceProcess,
} from '@kairos/testkit';

const { SERVING, NOT_SERVING } = health.HealthCheckResponse_ServingStatus;

function checkHealth(port: number): Promise<health.HealthCheckResponse_ServingStatus> {
  const client = new health.HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.check({ service: '' }, new Metadata(), { deadline: Date.now() + 1_000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res.status);
    }),
  );
}

describe('a service-kit service process', function () {
  this.timeout(90_000);
  let nats: NatsServer | undefined;
  let service: ServiceProcess | undefined;

  after(async () => {
    if (service?.running) await service.kill();
    await nats?.dispose();
  });

  it('reports NOT_SERVING until NATS is up, SERVING after, and drains an in-flight message on SIGTERM', async () => {
    const natsPort = await freePort();
    const grpcPort = await freePort();
    const starting = startServiceProcess({
      name: 'sample-service',
      script: join(__dirname, '..', 'fixtures', 'sample-service.js'),
      env: {
        NATS_URL: `nats://127.0.0.1:${natsPort}`,
        KAIROS_GRPC_PORT: String(grpcPort),
        SAMPLE_HANDLER_DELAY: '1500ms',
      },
      readiness: { grpcPort },
      readyTimeoutMs: 60_000,
    });
    starting.catch(() => undefined);
    // gRPC health answers before the dependencies are ready, and says so.
    const early = await waitFor(() => checkHealth(grpcPort).catch(() => undefined), {
      timeoutMs: 20_000,
      message: 'health service answering',
    });
    assert.equal(early, NOT_SERVING);

    nats = await startNats({ port: natsPort, ignoreEnv: true });
    service = await starting;
    assert.equal(await checkHealth(grpcPort), SERVING);

    const nc = await connectNats({ servers: nats.url, name: 'test', logger: silentLogger });
    const publisher = new Publisher(nc, { logger: silentLogger });
    await publisher.publish(
      'events.raw.7.customer_action.page.viewed',
      SCHEMAS.Event,
      events.Event.fromPartial({ id: 'slow-1', type: 'page.viewed', customerId: 'c1' }),
      { msgId: 'slow-1' },
    );
    await service.waitForLog('handling', 20_000);
    const exitCode = await service.stop('SIGTERM', 30_000);
    assert.equal(exitCode, 0);
    assert.ok(service.logs().some((l) => l.includes('drained')));

    const jsm = await jetstreamManager(nc);
    const done = await jsm.streams.getMessage(STREAMS.EVENTS.name, {
      last_by_subj: 'events.raw.8.system.sample.done',
    });
    assert.equal(
      done && SCHEMAS.Event.type.decode(done.data).id,
      'done-slow-1',
      'the in-flight handler finished',
    );
    const info = await jsm.consumers.info(STREAMS.EVENTS.name, 'sample');
    assert.equal(info.num_ack_pending, 0, 'the in-flight message was acked, not left for redelivery');
    assert.equal(info.num_pending, 0);
    await nc.close();
  });

  it('exits with code 2 and names the variable when the configuration is invalid', async () => {
    const grpcPort = await freePort();
    await assert.rejects(
      startServiceProcess({
        name: 'bad-config',
        script: join(__dirname, '..', 'fixtures', 'sample-service.js'),
        env: { KAIROS_PARTITIONS: 'many', KAIROS_GRPC_PORT: String(grpcPort) },
        readiness: { grpcPort },
        readyTimeoutMs: 20_000,
      }),
      /KAIROS_PARTITIONS: expected an integer from 1 to 1024, got 'many'/,
    );
  });
});
