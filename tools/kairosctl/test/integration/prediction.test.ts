import assert from 'node:assert/strict';
import { events, partitionOf, predictions, SCHEMAS, subjects } from '@kairos/contracts';
import { connectPublisher } from '@kairos/messaging';
import {
  loadPredictionConfig,
  PREDICTION_SERVICE_NAME,
  startPrediction,
  type PredictionApp,
} from '@kairos/prediction';
import { createLogger, type GrpcServer } from '@kairos/service-kit';
import { freePort, useMongo, useNats, useNatsClient, waitFor } from '@kairos/testkit';
import { cli, serveGrpc } from '../support';

const DAY_MS = 86_400_000;

describe('kairosctl predict <customer> and model report against a running PredictionService', function () {
  let app: PredictionApp;
  let server: GrpcServer;
  let env: NodeJS.ProcessEnv = {};
  after(async function () {
    this.timeout(20_000);
    await server?.shutdown(1_000);
    await app?.stop();
  });
  const nats = useNats();
  const mongo = useMongo({ dbPrefix: 'kairosctl_prediction' });
  const bus = useNatsClient(() => connectPublisher(nats.url, 'kairosctl-test'));

  before(async function () {
    this.timeout(60_000);
    const logger = createLogger('kairosctl-test', 'silent');
    const config = loadPredictionConfig({ KAIROS_PARTITIONS: '2', KAIROS_IDLE_ADVANCE_INTERVAL: '0s' });
    app = await startPrediction(config, { nc: bus.nc, db: mongo.db, logger });
    let addr: string;
    ({ server, addr } = await serveGrpc(
      predictions.PredictionServiceService,
      app.service.handlers(),
      PREDICTION_SERVICE_NAME,
    ));
    env = { KAIROS_PREDICTION_ADDR: addr };
    const { publisher } = bus;
    const start = Date.parse('2025-03-03T00:00:00Z');
    for (let d = 0; d < 5; d++) {
      const type = d === 3 ? 'order.completed' : 'page.viewed';
      const event = events.Event.fromPartial({
        id: `ada-${d}`,
        type,
        category: events.EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
        customerId: 'ada',
        occurredAt: new Date(start + d * DAY_MS + 18 * 3_600_000),
        properties: d === 3 ? { revenue: 42 } : {},
      });
      await publisher.publish(
        subjects.enrichedEvent(partitionOf('ada', 2), event.category, type),
        SCHEMAS.EnrichedEvent,
        { event, profile: undefined, enrichedAt: new Date() },
        { msgId: `enriched:${event.id}` },
      );
    }
    await waitFor(async () => (await cli(['predict', 'ada'], env)).code === 0, {
      timeoutMs: 20_000,
      message: 'ada to be scored',
    });
  });

  it('prints a customer’s scores, baselines, best send hour and top contributions', async () => {
    const r = await cli(['predict', 'ada'], env);
    assert.equal(r.code, 0, r.err.join('\n'));
    const text = r.out.join('\n');
    assert.match(text, /customer ada \(partition \d+\), event time 2025-03-07T18:00:00.000Z/);
    assert.match(text, /^churn +\S+ +\d+ +cold start +days since last activity/m);
    assert.match(text, /^purchase /m);
    assert.match(text, /best send hour 18:00 UTC/);
    assert.match(text, /churn: top contributions to the log-odds/);
    const json = JSON.parse((await cli(['predict', 'ada', '-o', 'json'], env)).out.join('\n'));
    assert.equal(json.customerId, 'ada');
    assert.equal(json.features.orders_30d, Math.log1p(1));
  });

  it('prints the models’ report with the baseline beside them', async () => {
    const r = await cli(['model', 'report'], env);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.match(
      r.out[0],
      /^model +partition +version +examples +window +auc +baseline_auc +brier +ece +updated$/,
    );
    assert.match(r.out.join('\n'), /churn: calibration by decile \(baseline: days since last activity\)/);
    const json = JSON.parse(
      (await cli(['model', 'report', 'purchase', '--partitions', '-o', 'json'], env)).out.join('\n'),
    );
    assert.deepEqual(
      json.reports.map((x: { model: string; pooled?: boolean }) => [x.model, x.pooled ?? false]),
      [
        ['purchase', true],
        ['purchase', false],
        ['purchase', false],
      ],
    );
  });

  it('names the field and the fix for bad input, and exits 3 when the service is down', async () => {
    const bad = await cli(['predict', 'has space'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.err.join('\n'), /INVALID_ARGUMENT: customer_id: must not contain whitespace/);
    const unknown = await cli(['predict', 'nobody'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err.join('\n'), /NOT_FOUND: customer_id 'nobody': no events seen/);
    const model = await cli(['model', 'report', 'lifetime'], env);
    assert.equal(model.code, 2);
    assert.match(model.err.join('\n'), /expected churn or purchase, got 'lifetime'/);
    const down = await cli(['predict', 'ada'], { KAIROS_PREDICTION_ADDR: `127.0.0.1:${await freePort()}` });
    assert.equal(down.code, 3);
    assert.match(down.err.join('\n'), /cannot reach prediction .* \(set KAIROS_PREDICTION_ADDR\)/);
  });
});
