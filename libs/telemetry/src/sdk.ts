import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { MongoDBInstrumentation } from '@opentelemetry/instrumentation-mongodb';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

const SDK_KEY = Symbol.for('kairos.telemetry.sdk');

interface GlobalWithSdk {
  [SDK_KEY]?: NodeSDK;
}

/**
 * Starts the OpenTelemetry SDK once per process. It must run before grpc-js and mongodb are
 * imported, which is why services load `register.js` with `node --require`.
 * Spans are exported with OTLP/HTTP only when an OTLP endpoint is configured through the standard
 * OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT variables; without one, spans are
 * still created (trace ids in logs and in propagated headers) but not exported.
 */
export function startTelemetry(env: NodeJS.ProcessEnv = process.env): NodeSDK | undefined {
  const g = globalThis as GlobalWithSdk;
  if (g[SDK_KEY]) return g[SDK_KEY];
  if (env.OTEL_SDK_DISABLED === 'true') return undefined;
  if (env.OTEL_LOG_LEVEL === 'debug') diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.DEBUG);

  const serviceName = env.OTEL_SERVICE_NAME ?? env.KAIROS_SERVICE_NAME ?? 'kairos';
  const spanProcessors: SpanProcessor[] = [];
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  } else {
    // With no processor at all the SDK registers no tracer provider: spans would be no-ops, logs would
    // carry no trace ids and delivered messages no X-Kairos-Trace-Id. Record spans, export none.
    spanProcessors.push(new NoopSpanProcessor());
  }
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: serviceName,
      [ATTR_SERVICE_VERSION]: env.KAIROS_VERSION ?? '0.1.0',
    }),
    spanProcessors,
    // Metrics are served in Prometheus format by service-kit; no OTLP metric reader here.
    instrumentations: [new GrpcInstrumentation(), new MongoDBInstrumentation()],
  });
  sdk.start();
  g[SDK_KEY] = sdk;
  return sdk;
}

/** Flushes and stops the SDK (part of graceful drain). Safe to call when it never started. */
export async function shutdownTelemetry(): Promise<void> {
  const g = globalThis as GlobalWithSdk;
  const sdk = g[SDK_KEY];
  if (!sdk) return;
  g[SDK_KEY] = undefined;
  await sdk.shutdown().catch(() => undefined);
}
