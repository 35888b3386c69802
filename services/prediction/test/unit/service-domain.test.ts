import assert from 'node:assert/strict';
import { events } from '@kairos/contracts';
import {
  DAY_MS,
  pooledReport,
  predictedEventId,
  PredictionEngine,
  skipReason,
  toFeatureEvent,
  toPredictedEvent,
  type PredictedEvent,
} from '../../src';

const T0 = Date.parse('2025-01-06T00:00:00Z');

function enriched(partial: Partial<events.Event>): events.EnrichedEvent {
  return events.EnrichedEvent.fromPartial({
    event: {
      id: 'e1',
      type: 'order.completed',
      category: events.EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
      customerId: 'ada',
      occurredAt: new Date(T0),
      properties: { revenue: '12.5' },
      ...partial,
    },
  });
}

const decision: PredictedEvent = {
  type: 'churn.predicted',
  category: 'predicted',
  customerId: 'ada',
  at: T0 + 3 * 3_600_000,
  score: 0.71,
  model: 'churn',
  modelVersion: 4,
  topFeatures: [{ feature: 'days_since_last_activity', contribution: 1.2, value: 2.3 }],
  causeEventId: '',
};

describe('prediction service edges (pure)', () => {
  it('takes an enriched event on its event time with its revenue, and never a predicted event', () => {
    assert.equal(skipReason(enriched({})), undefined);
    assert.deepEqual(toFeatureEvent(enriched({})), {
      id: 'e1',
      customerId: 'ada',
      type: 'order.completed',
      at: T0,
      revenue: 12.5,
      category: 'customer_action',
    });
    assert.equal(
      skipReason(
        enriched({ category: events.EventCategory.EVENT_CATEGORY_PREDICTED, type: 'churn.predicted' }),
      ),
      'predicted',
    );
    assert.equal(skipReason(enriched({ customerId: '' })), 'event e1: customer_id is empty');
  });

  it('gives a decision the same id whenever it is decided that day, and another id another day', () => {
    const id = predictedEventId(decision);
    assert.equal(predictedEventId({ ...decision, at: decision.at + 3_600_000 }), id);
    assert.notEqual(predictedEventId({ ...decision, at: decision.at + DAY_MS }), id);
    assert.notEqual(predictedEventId({ ...decision, model: 'purchase' }), id);
    assert.notEqual(predictedEventId({ ...decision, customerId: 'bob' }), id);
    assert.ok(id.length <= 128, 'an identifier ingest accepts');
  });

  it('publishes a decision as a predicted Event carrying score, model version and top features', () => {
    const e = toPredictedEvent(decision, 3, new Date(T0 + DAY_MS));
    assert.equal(e.category, events.EventCategory.EVENT_CATEGORY_PREDICTED);
    assert.equal(e.type, 'churn.predicted');
    assert.equal(e.occurredAt?.getTime(), decision.at);
    assert.deepEqual(e.properties, {
      score: 0.71,
      model: 'churn',
      model_version: 4,
      model_partition: 3,
      top_features: decision.topFeatures,
      cause_event_id: '',
    });
    // It survives the wire (Struct) unchanged.
    assert.deepEqual(events.Event.decode(events.Event.encode(e).finish()).properties, e.properties);
  });
});

describe('engine additions for the service', () => {
  function engineWith(hours: Record<string, number>): PredictionEngine {
    const engine = new PredictionEngine();
    for (const [customer, hour] of Object.entries(hours))
      for (let d = 0; d < 10; d++)
        engine.process({
          customerId: customer,
          type: 'email.opened',
          at: T0 + d * DAY_MS + hour * 3_600_000,
        });
    return engine;
  }

  it('estimates a best hour from the customer’s own opens, and the population’s for a stranger', () => {
    const engine = engineWith({ a: 20, b: 20, c: 20, d: 7 });
    assert.equal(engine.sendTime('d').bestHour, 7);
    assert.ok(engine.sendTime('d').evidence > 0);
    const stranger = engine.sendTime('nobody');
    assert.equal(stranger.bestHour, 20);
    assert.equal(stranger.evidence, 0);
  });

  it('adopts stored models (warm start) and pools reports over engines', () => {
    const trained = new PredictionEngine({ minExamples: 0 });
    for (let d = 0; d < 120; d++)
      for (let c = 0; c < 40; c++)
        if (c % 2 === 0 || d < 30 + c)
          trained.process({ customerId: `c${c}`, type: 'page.viewed', at: T0 + d * DAY_MS + c * 60_000 });
    assert.ok(trained.churn.examples > 0);
    const fresh = new PredictionEngine();
    fresh.adoptModels({ churn: trained.churn.toJSON() });
    assert.deepEqual(fresh.churn.toJSON(), trained.churn.toJSON());
    assert.equal(fresh.purchase.examples, 0, 'a model not given stays cold');
    const pooled = pooledReport('churn', [trained, fresh]);
    assert.equal(pooled.examples, trained.churn.examples * 2);
    assert.equal(pooled.window, trained.report('churn').window, 'the fresh engine has no labels of its own');
    assert.equal(pooled.auc, trained.report('churn').auc);
  });
});
