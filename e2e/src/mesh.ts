import { join } from 'node:path';
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { TELEMETRY_PRELOAD } from '@kairos/telemetry';
import {
  freePort,
  startMongo,
  startNats,
  startOtlpReceiver,
  startServiceProcess,
  type MongoServer,
  type NatsServer,
  type OtlpReceiver,
  type ServiceProcess,
} from '@kairos/testkit';

const ROOT = join(__dirname, '..', '..', '..');

export interface RunningService {
  process: ServiceProcess;
  grpcPort: number;
  httpPort: number;
  /** The settings it was started with (besides the mesh's own), for a restart. */
  env: Record<string, string>;
  /** Output of its earlier processes, when it was restarted. */
  earlierLogs: string[];
}

/**
 * The mesh under test: real NATS, a MongoDB-wire database, an OTLP receiver, and services started
 * as processes with the telemetry preload, exporting spans to the receiver.
 */
export class Mesh {
  nats!: NatsServer;
  mongo!: MongoServer;
  otlp!: OtlpReceiver;
  tracer!: Tracer;
  readonly services = new Map<string, RunningService>();
  private provider?: BasicTracerProvider;
  readonly dbName = `e2e_${process.pid}_${Date.now()}`;

  async startInfrastructure(): Promise<void> {
    [this.nats, this.mongo, this.otlp] = await Promise.all([startNats(), startMongo(), startOtlpReceiver()]);
    // The test process plays the client application: its spans go to the same receiver.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'e2e-client' }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: this.otlp.tracesUrl }))],
    });
    trace.setGlobalTracerProvider(this.provider);
    this.tracer = trace.getTracer('e2e');
  }

  async startService(name: string, env: Record<string, string> = {}): Promise<RunningService> {
    return this.launch(name, env, await freePort(), await freePort(), []);
  }

  /**
   * Starts a stopped (or killed) service again with the same ports and settings, so its clients
   * and the services that call it find it where it was, and waits until it is SERVING.
   */
  async restartService(name: string): Promise<RunningService> {
    const previous = this.services.get(name);
    if (!previous) throw new Error(`mesh: ${name} was never started`);
    if (previous.process.running) await previous.process.stop('SIGTERM', 20_000);
    const earlierLogs = [...previous.earlierLogs, ...previous.process.logs(), `--- ${name} restarted ---`];
    return this.launch(name, previous.env, previous.grpcPort, previous.httpPort, earlierLogs);
  }

  private async launch(
    name: string,
    env: Record<string, string>,
    grpcPort: number,
    httpPort: number,
    earlierLogs: string[],
  ): Promise<RunningService> {
    const process = await startServiceProcess({
      name,
      script: join(ROOT, 'services', name, 'dist', 'src', 'main.js'),
      requireTelemetry: TELEMETRY_PRELOAD,
      env: {
        NATS_URL: this.nats.url,
        MONGO_URL: this.mongo.url,
        MONGO_DB: `${this.dbName}_${name.replace(/-/g, '_')}`,
        OTEL_SERVICE_NAME: name,
        OTEL_EXPORTER_OTLP_ENDPOINT: this.otlp.url,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        KAIROS_GRPC_PORT: String(grpcPort),
        KAIROS_HTTP_PORT: String(httpPort),
        LOG_LEVEL: 'info',
        ...env,
      },
      readiness: { grpcPort },
      readyTimeoutMs: 60_000,
    });
    const running = { process, grpcPort, httpPort, env, earlierLogs };
    this.services.set(name, running);
    return running;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.services.values()].map((s) => s.process.stop('SIGTERM', 20_000)));
    await this.provider?.shutdown().catch(() => undefined);
    trace.disable();
    context.disable();
    propagation.disable();
    await Promise.allSettled([this.nats?.dispose(), this.mongo?.stop(), this.otlp?.stop()]);
  }
}
