import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { health, PROTO_DIR, PROTO_FILES } from '@kairos/contracts';
import type { Logger } from './logger';

const { ServingStatus } = { ServingStatus: health.HealthCheckResponse_ServingStatus };
type Status = health.HealthCheckResponse_ServingStatus;

/**
 * A gRPC server with the standard health service (NOT_SERVING until the service says it is ready)
 * and server reflection, so grpcurl-style tools work.
 */
export class GrpcServer {
  readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  private readonly statuses = new Map<string, Status>([['', ServingStatus.NOT_SERVING]]);
  private readonly watchers = new Set<{ service: string; call: grpc.ServerWritableStream<any, any> }>();
  private readonly serviceNames: string[] = [];
  port = 0;

  constructor(private readonly logger: Logger) {
    const impl: health.HealthServer = {
      check: (call, cb) => {
        const status = this.statuses.get(call.request.service);
        if (status === undefined)
          cb({ code: grpc.status.NOT_FOUND, details: `unknown service '${call.request.service}'` });
        else cb(null, { status });
      },
      watch: (call) => {
        const w = { service: call.request.service, call };
        this.watchers.add(w);
        call.write({ status: this.statuses.get(w.service) ?? ServingStatus.SERVICE_UNKNOWN });
        call.on('cancelled', () => this.watchers.delete(w));
        call.on('close', () => this.watchers.delete(w));
      },
    };
    this.server.addService(health.HealthService, impl as unknown as grpc.UntypedServiceImplementation);
  }

  /** Registers an implementation; `fullName` (e.g. kairos.ingest.v1.IngestService) gets its own health status. */
  addService<I extends object>(definition: grpc.ServiceDefinition, impl: I, fullName: string): void {
    this.server.addService(definition, impl as unknown as grpc.UntypedServiceImplementation);
    this.serviceNames.push(fullName);
    this.statuses.set(fullName, ServingStatus.NOT_SERVING);
  }

  setServing(serving: boolean): void {
    const status = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    for (const key of this.statuses.keys()) this.statuses.set(key, status);
    for (const w of this.watchers) if (this.statuses.has(w.service)) w.call.write({ status });
  }

  async start(port: number, host = '0.0.0.0'): Promise<number> {
    try {
      const pkg = protoLoader.loadSync(PROTO_FILES, { includeDirs: [PROTO_DIR], keepCase: false });
      new ReflectionService(pkg).addToServer(this.server);
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message },
        'gRPC reflection unavailable (proto files not found)',
      );
    }
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
    this.logger.info({ port: this.port, services: this.serviceNames }, 'gRPC server listening');
    return this.port;
  }

  /** Stops accepting calls and waits for in-flight calls, forcing after `graceMs`. */
  async shutdown(graceMs: number): Promise<void> {
    this.setServing(false);
    for (const w of this.watchers) w.call.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
