import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { cutInput, health, PROTO_DIR, PROTO_FILES } from '@kairos/contracts';
import type { Logger } from './logger';
import { loadSchema, RequestChecker } from './request-check';
import { bearerToken, certificateIdentities, type Access, type ServerSecurity } from './security';

const { ServingStatus } = { ServingStatus: health.HealthCheckResponse_ServingStatus };
type Status = health.HealthCheckResponse_ServingStatus;

/** What a guarded request deserializer returns instead of a request that breaks the API's rules. */
class RejectedRequest {
  constructor(readonly details: string) {}
}

/** Ends an intercepted call with a status. */
type EndCall = (code: grpc.status, details: string) => void;

/**
 * An intercepted call that a hook may end early: a hook returns true to pass its metadata or
 * message on, or calls `end` instead. Once ended, later messages and the half-close are dropped,
 * and so is the handler's own ending (e.g. "no request message").
 */
function endableCall(
  call: grpc.ServerInterceptingCallInterface,
  hooks: {
    onMetadata?: (metadata: grpc.Metadata, end: EndCall) => boolean;
    onMessage?: (message: unknown, end: EndCall) => boolean;
  },
): grpc.ServerInterceptingCall {
  let ended = false;
  let ending = false;
  const intercepting: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(call, {
    start: (next) =>
      next(
        new grpc.ServerListenerBuilder()
          .withOnReceiveMetadata((metadata, forward) => {
            if (!ended && (hooks.onMetadata?.(metadata, end) ?? true)) forward(metadata);
          })
          .withOnReceiveMessage((message: unknown, forward) => {
            if (!ended && (hooks.onMessage?.(message, end) ?? true)) forward(message);
          })
          .withOnReceiveHalfClose((forward) => {
            if (!ended) forward();
          })
          .build(),
      ),
    sendStatus: (status, forward) => {
      if (!ended || ending) forward(status);
    },
  });
  const end: EndCall = (code, details) => {
    ended = true;
    ending = true;
    intercepting.sendStatus({ code, details, metadata: new grpc.Metadata() });
    ending = false;
  };
  return intercepting;
}

/**
 * Answers INVALID_ARGUMENT for a request its guarded deserializer rejected. grpc-js turns any
 * deserializer error into INTERNAL, so the deserializer hands over a RejectedRequest instead and this
 * interceptor ends the call with it (on a client stream, naming which message it was).
 */
const rejectInvalidRequests: grpc.ServerInterceptor = (method, call) => {
  let received = 0;
  return endableCall(call, {
    onMessage: (message, end) => {
      received++;
      if (!(message instanceof RejectedRequest)) return true;
      const where = method.requestStream ? `message ${received}: ` : '';
      end(grpc.status.INVALID_ARGUMENT, where + message.details);
      return false;
    },
  });
};

const ACCESS_STATUS = {
  unauthenticated: grpc.status.UNAUTHENTICATED,
  permission_denied: grpc.status.PERMISSION_DENIED,
} as const;

/**
 * Ends a call to a method that needs the admin or a service credential when the caller's bearer
 * token or verified client certificate is not one, before its request is read: UNAUTHENTICATED
 * (no or an unknown credential) or PERMISSION_DENIED (a credential without the right), naming
 * the method and what is missing.
 */
function requireAccess(security: ServerSecurity, access: Map<string, Access>): grpc.ServerInterceptor {
  const verifiedCerts = security.tls?.requireClientCert === true;
  return (method, call) => {
    const need = access.get(method.path) ?? 'public';
    if (need === 'public') return new grpc.ServerInterceptingCall(call);
    return endableCall(call, {
      onMetadata: (metadata, end) => {
        const token = bearerToken(metadata.get('authorization')[0]?.toString());
        // A certificate names an identity only when the handshake verified it against the CA.
        const identities = verifiedCerts
          ? certificateIdentities(call.getAuthContext().sslPeerCertificate)
          : [];
        const decision = security.access.decide(need, method.path.slice(1), token, identities);
        if (decision.ok) return true;
        end(ACCESS_STATUS[decision.code], decision.message);
        return false;
      },
    });
  };
}

/**
 * A gRPC server with the standard health service (NOT_SERVING until the service says it is ready)
 * and server reflection, so grpcurl-style tools work. Given `security`, it serves TLS (mTLS when
 * client certificates are required) and checks each method's access (addService); without it
 * (in-process tests) it serves plaintext and every method is open.
 */
export class GrpcServer {
  readonly server: grpc.Server;
  private readonly access = new Map<string, Access>();
  private readonly statuses = new Map<string, Status>([['', ServingStatus.NOT_SERVING]]);
  private readonly watchers = new Set<{ service: string; call: grpc.ServerWritableStream<any, any> }>();
  private readonly serviceNames: string[] = [];
  port = 0;

  constructor(
    private readonly logger: Logger,
    private readonly security?: ServerSecurity,
  ) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      interceptors: security
        ? [requireAccess(security, this.access), rejectInvalidRequests]
        : [rejectInvalidRequests],
    });
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

  /**
   * Registers an implementation; `fullName` (e.g. kairos.ingest.v1.IngestService) gets its own health
   * status. Each method's request deserializer is guarded: the request's bytes are checked against its
   * proto schema first (see request-check.ts), and a request that breaks a rule, or that the
   * deserializer cannot decode, is answered INVALID_ARGUMENT naming the field. `access` says who may
   * call each method (keys as in `definition`); a method it leaves out needs the admin credential.
   */
  addService<I extends object>(
    definition: grpc.ServiceDefinition,
    impl: I,
    fullName: string,
    access: Partial<Record<string, Access>> = {},
  ): void {
    const checker = new RequestChecker(loadSchema(PROTO_DIR, PROTO_FILES));
    const guarded: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    for (const [name, method] of Object.entries(definition)) {
      const [service, rpc] = method.path.slice(1).split('/');
      const plan = checker.planFor(checker.requestType(service, rpc));
      this.access.set(method.path, access[name] ?? 'admin');
      const decode = method.requestDeserialize;
      guarded[name] = {
        ...method,
        requestDeserialize: (bytes: Buffer) => {
          const problem = checker.check(plan, bytes);
          if (problem) return new RejectedRequest(problem);
          try {
            return decode(bytes);
          } catch (err) {
            return new RejectedRequest(
              `request could not be decoded: ${cutInput((err as Error).message, 300)}`,
            );
          }
        },
      };
    }
    this.server.addService(guarded, impl as unknown as grpc.UntypedServiceImplementation);
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
      this.server.bindAsync(`${host}:${port}`, this.credentials(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
    const tls = this.security?.tls;
    this.logger.info(
      {
        port: this.port,
        services: this.serviceNames,
        transport: tls ? (tls.requireClientCert ? 'mtls' : 'tls') : 'plaintext',
      },
      'gRPC server listening',
    );
    return this.port;
  }

  private credentials(): grpc.ServerCredentials {
    const tls = this.security?.tls;
    if (!tls) return grpc.ServerCredentials.createInsecure();
    return grpc.ServerCredentials.createSsl(
      tls.ca ?? null,
      [{ cert_chain: tls.cert, private_key: tls.key }],
      tls.requireClientCert,
    );
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
