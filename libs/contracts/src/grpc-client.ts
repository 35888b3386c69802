import { Metadata, type ServiceError } from '@grpc/grpc-js';

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
