import * as grpc from '@grpc/grpc-js';
import { profiles } from '@kairos/contracts';

/**
 * A ProfileService served over a real gRPC socket, with profiles and histories set by the test and
 * customers whose lookups are slower than any sane deadline (to exercise the fallback).
 */
export class FakeProfileService {
  readonly profiles = new Map<string, profiles.Profile>();
  readonly histories = new Map<string, profiles.Communication[]>();
  readonly slow = new Set<string>();
  calls = 0;
  historyCalls = new Map<string, number>();
  private server = new grpc.Server();
  port = 0;

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const later = (customerId: string, fn: () => void) =>
      this.slow.has(customerId) ? setTimeout(fn, 1_000) : fn();
    const impl: Partial<profiles.ProfileServiceServer> = {
      get: (call, cb) => {
        this.calls++;
        later(call.request.customerId, () => {
          const p = this.profiles.get(call.request.customerId);
          if (!p) cb({ code: grpc.status.NOT_FOUND, details: `no profile '${call.request.customerId}'` });
          else cb(null, { profile: p });
        });
      },
      history: (call, cb) => {
        const id = call.request.customerId;
        this.historyCalls.set(id, (this.historyCalls.get(id) ?? 0) + 1);
        later(call.request.customerId, () => {
          const since = call.request.since?.getTime() ?? 0;
          const comms = (this.histories.get(call.request.customerId) ?? []).filter(
            (c) => (c.at?.getTime() ?? 0) >= since,
          );
          cb(null, { communications: comms });
        });
      },
    };
    this.server.addService(profiles.ProfileServiceService, impl as grpc.UntypedServiceImplementation);
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  addProfile(p: Partial<profiles.Profile> & { customerId: string }): void {
    this.profiles.set(p.customerId, profiles.Profile.fromPartial(p));
  }
}
