import { Client, credentials, Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';

/**
 * Calls for hostile-input tests: requests sent as the exact bytes given, as a client in another
 * language could send them (invalid UTF-8, deep nesting, out-of-range integers).
 */
export class RawGrpcClient {
  private readonly client: Client;

  /** `channel`: plaintext unless given (TLS tests pass their own). */
  constructor(address: string, channel: ChannelCredentials = credentials.createInsecure()) {
    this.client = new Client(address, channel);
  }

  /** A unary call (`path` like /kairos.ingest.v1.IngestService/Track); resolves the response bytes. */
  unary(path: string, request: Uint8Array, md = new Metadata()): Promise<Buffer> {
    return new Promise((resolve, reject) =>
      this.client.makeUnaryRequest(
        path,
        (b: Uint8Array) => Buffer.from(b),
        (b: Buffer) => b,
        request,
        md,
        (err, res) => (err ? reject(err) : resolve(res!)),
      ),
    );
  }

  /** A client-streaming call writing each message, then half-closing. */
  clientStream(path: string, messages: Uint8Array[], md = new Metadata()): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const call = this.client.makeClientStreamRequest(
        path,
        (b: Uint8Array) => Buffer.from(b),
        (b: Buffer) => b,
        md,
        (err, res) => (err ? reject(err) : resolve(res!)),
      );
      call.on('error', () => undefined); // the callback reports it
      for (const m of messages) call.write(m);
      call.end();
    });
  }

  close(): void {
    this.client.close();
  }
}

/** Awaits a call expected to fail; returns its error (throws when it succeeds). */
export async function grpcFailure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/**
 * `bytes` with the first occurrence of the ASCII `marker` overwritten by `replacement` (same length),
 * e.g. to turn an encoded string `X~` into the invalid UTF-8 `X\xff`.
 */
export function patchBytes(bytes: Uint8Array, marker: string, replacement: number[]): Buffer {
  if (marker.length !== replacement.length) throw new Error('marker and replacement differ in length');
  const out = Buffer.from(bytes);
  const at = out.indexOf(marker, 0, 'latin1');
  if (at < 0) throw new Error(`marker '${marker}' not found`);
  out.set(replacement, at);
  return out;
}
