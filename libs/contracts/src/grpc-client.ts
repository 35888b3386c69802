import {
  credentials,
  Metadata,
  type ChannelCredentials,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';

/** A unary method of a grpc-js client, in its form with metadata and call options. */
export type UnaryMethod<Req, Res> = (
  req: Req,
  md: Metadata,
  opts: { deadline: number },
  cb: (err: ServiceError | null, res: Res) => void,
) => unknown;

/**
 * Calls a unary method (bound to its client) with a deadline `timeoutMs` from now; resolves the
 * response, rejects with the call's ServiceError.
 */
export function callUnary<Req, Res>(
  method: UnaryMethod<Req, Res>,
  req: Req,
  timeoutMs: number,
  md: Metadata = new Metadata(),
): Promise<Res> {
  return new Promise((resolve, reject) =>
    method(req, md, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/** How a DeadlineClient reaches its peer: channel credentials (default plaintext) and per-call metadata. */
export interface DeadlineClientChannel {
  credentials?: ChannelCredentials;
  /** Metadata each call carries (a bearer token, for example). */
  metadata?: () => Metadata;
}

/**
 * A client of one gRPC service whose every call carries the same deadline, so a slow peer never
 * stalls its caller for longer.
 */
export class DeadlineClient<C extends Client> {
  protected readonly client: C;

  constructor(
    Service: new (address: string, creds: ChannelCredentials) => C,
    address: string,
    protected readonly deadlineMs: number,
    private readonly channel: DeadlineClientChannel = {},
  ) {
    this.client = new Service(address, channel.credentials ?? credentials.createInsecure());
  }

  /** Calls the unary method `rpc` picks from the client, with the deadline. */
  protected call<Req, Res>(rpc: (client: C) => UnaryMethod<Req, Res>, req: Req): Promise<Res> {
    return callUnary(
      rpc(this.client).bind(this.client),
      req,
      this.deadlineMs,
      this.channel.metadata?.() ?? new Metadata(),
    );
  }

  close(): void {
    this.client.close();
  }
}
