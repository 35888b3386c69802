import assert from 'node:assert/strict';
import { SpanKind } from '@opentelemetry/api';
import {
  injectTraceContext,
  withConsumerSpan,
  withProducerSpan,
  activeTraceIds,
  captureTraceContext,
  withStoredTraceContext,
} from '../../src/propagation';
import { counter, latencyHistogram, metricsRegistry, percentile } from '../../src/metrics';
import { inMemoryTracing } from '../../src/testing';

class MapHeaders {
  readonly map = new Map<string, string>();
  get(k: string) {
    return this.map.get(k) ?? '';
  }
  set(k: string, v: string) {
    this.map.set(k, v);
  }
}

describe('trace propagation through message headers', () => {
  const tracing = inMemoryTracing();
  const { exporter } = tracing;
  before(() => tracing.install());
  after(() => tracing.uninstall());

  it('continues the producer trace in a consumer span that is its child', async () => {
    const headers = new MapHeaders();
    await withProducerSpan('events.raw.1.system.x', async () => injectTraceContext(headers));
    assert.match(headers.get('traceparent'), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    let seen: { trace_id: string } | undefined;
    await withConsumerSpan(
      'events.raw.1.system.x',
      headers,
      { 'messaging.consumer.group.name': 't' },
      async () => {
        seen = activeTraceIds();
      },
    );
    const [producer, consumer] = exporter.getFinishedSpans();
    assert.equal(producer.kind, SpanKind.PRODUCER);
    assert.equal(consumer.kind, SpanKind.CONSUMER);
    assert.equal(consumer.spanContext().traceId, producer.spanContext().traceId);
    assert.equal(consumer.parentSpanContext?.spanId, producer.spanContext().spanId);
    assert.equal(seen?.trace_id, producer.spanContext().traceId);
  });

  it('publishes under a stored trace context later, outside the call stack that captured it', async () => {
    const headers = new MapHeaders();
    let stored: Record<string, string> | undefined;
    let consumerSpan = '';
    await withProducerSpan('triggers.fired.1.t', async () => injectTraceContext(headers));
    await withConsumerSpan('triggers.fired.1.t', headers, {}, async (span) => {
      consumerSpan = span.spanContext().spanId;
      stored = captureTraceContext();
    });
    const traceId = headers.get('traceparent').split('-')[1];
    // Later, from a timer: no active span, yet the publish continues the stored trace.
    assert.equal(captureTraceContext(), undefined);
    const later = new MapHeaders();
    await withStoredTraceContext(stored, () =>
      withProducerSpan('actions.requested.email', async () => injectTraceContext(later)),
    );
    assert.equal(later.get('traceparent').split('-')[1], traceId);
    const producer = exporter.getFinishedSpans().find((s) => s.name === 'actions.requested.email publish');
    assert.equal(producer?.parentSpanContext?.spanId, consumerSpan);
    // Nothing stored: the active context (here none) is kept.
    const fresh = new MapHeaders();
    await withStoredTraceContext(undefined, () =>
      withProducerSpan('actions.requested.email', async () => injectTraceContext(fresh)),
    );
    assert.notEqual(fresh.get('traceparent').split('-')[1], traceId);
  });

  it('marks the consumer span as an error when the handler throws, and rethrows', async () => {
    exporter.reset();
    await assert.rejects(
      withConsumerSpan('s', undefined, {}, async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(exporter.getFinishedSpans()[0].status.message, 'boom');
  });
});

describe('metrics helpers', () => {
  it('return the same metric for the same name and render it in Prometheus format', async () => {
    const a = counter('kairos_test_total', 'test', ['k']);
    const b = counter('kairos_test_total', 'test', ['k']);
    assert.equal(a, b);
    a.inc({ k: 'v' }, 2);
    latencyHistogram('kairos_test_seconds', 'test').observe(0.003);
    const text = await metricsRegistry.metrics();
    assert.match(text, /kairos_test_total\{k="v"\} 2/);
    assert.match(text, /kairos_test_seconds_bucket\{le="0.005"\} 1/);
  });
});

describe('percentile (nearest rank)', () => {
  it('picks the nearest-rank value and is NaN for no samples', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(sorted, 50), 50);
    assert.equal(percentile(sorted, 99), 99);
    assert.equal(percentile(sorted, 100), 100);
    assert.equal(percentile([7], 0), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});
