import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { events, partitionOf, profiles, SCHEMAS, subjects } from '@kairos/contracts';
import { connectPublisher, type NatsConnection, type Publisher } from '@kairos/messaging';
import {
  adminMetadata,
  freePort,
  startServiceProcess,
  useMongo,
  useNats,
  waitFor,
  type ServiceProcess,
} from '@kairos/testkit';
import { Collector } from './helpers';

const ROOT = join(__dirname, '..', '..', '..', '..', '..');

describe('enrichment service process', function () {
  this.timeout(60_000);
  const nats = useNats();
  const mongo = useMongo({ dbPrefix: 'enrichp' });

  describe('running dist/src/main.js', () => {
    let service: ServiceProcess | undefined;
    let nc: NatsConnection;
    let publisher: Publisher;
    let grpcPort: number;

    before(async () => {
      grpcPort = await freePort();
      ({ nc, publisher } = await connectPublisher(nats.url, 'enrichment-process-test'));
      service = await startServiceProcess({
        name: 'enrichment',
        script: join(ROOT, 'services/enrichment/dist/src/main.js'),
        requireTelemetry: join(ROOT, 'libs/telemetry/dist/src/register.js'),
        env: {
          NATS_URL: nats.url,
          MONGO_URL: mongo.url,
          MONGO_DB: mongo.dbName,
          KAIROS_GRPC_PORT: String(grpcPort),
          KAIROS_HTTP_PORT: String(await freePort()),
          KAIROS_PARTITIONS: '4',
          OTEL_SDK_DISABLED: 'true',
        },
        readiness: { grpcPort, service: 'kairos.profiles.v1.ProfileService' },
      });
    });
    after(async () => {
      await service?.kill();
      await nc?.drain();
    });

    it('serves health SERVING, enriches an event, answers Get, and drains on SIGTERM', async () => {
      const enriched = new Collector(nc, 'events.enriched.>', (d) => SCHEMAS.EnrichedEvent.type.decode(d));
      const event = events.Event.fromPartial({
        id: 'proc-1',
        type: 'order.completed',
        category: events.EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
        customerId: 'pat',
        occurredAt: new Date(),
        properties: { revenue: 42 },
      });
      await publisher.publish(
        subjects.rawEvent(partitionOf('pat', 4), event.category, event.type),
        SCHEMAS.Event,
        event,
        { msgId: event.id },
      );
      const out = await waitFor(() => enriched.items.find((i) => i.message.event?.id === 'proc-1'), {
        message: 'the enriched event from the service process',
      });
      assert.equal(out.message.profile!.counters!.lifetimeValue, 42);

      const client = new profiles.ProfileServiceClient(
        `127.0.0.1:${grpcPort}`,
        grpc.credentials.createInsecure(),
      );
      const got = await new Promise<profiles.GetResponse>((resolve, reject) =>
        client.get({ customerId: 'pat' }, adminMetadata(), (err, res) => (err ? reject(err) : resolve(res))),
      );
      client.close();
      assert.equal(got.profile!.counters!.purchases, 1);

      const code = await service!.stop('SIGTERM');
      assert.equal(code, 0, `exit code after SIGTERM\n${service!.logs().slice(-20).join('\n')}`);
      assert.ok(
        service!.logs().some((l) => l.includes('drained')),
        'logs the end of the drain',
      );
    });
  });
});
