import { inMemoryTracing } from '@kairos/telemetry';
import type { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';

/**
 * Traces the enclosing suite in memory (see inMemoryTracing): installed before the suite, removed
 * after it. Returns the exporter holding the finished spans.
 */
export function useInMemoryTracing(): InMemorySpanExporter {
  const tracing = inMemoryTracing();
  before(() => tracing.install());
  after(() => tracing.uninstall());
  return tracing.exporter;
}
