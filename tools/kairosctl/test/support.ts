import type { ServiceDefinition } from '@grpc/grpc-js';
import { createLogger, GrpcServer } from '@kairos/service-kit';
import { runCli, type Io } from '../src';

export const ROOT = `${__dirname}/../../../..`;
export const EXAMPLES = `${ROOT}/libs/definitions/examples`;

export interface Run {
  code: number;
  out: string[];
  err: string[];
}

/** Runs the CLI in-process with captured output. */
export async function cli(argv: string[], env: NodeJS.ProcessEnv = {}, now = Date.now()): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (l) => out.push(...l.split('\n')),
    err: (l) => err.push(...l.split('\n')),
    env,
    now: () => now,
  };
  const code = await runCli(argv, io);
  return { code, out, err };
}

/** `predict` over an events file, as of 2026-03-01 with a 30-day horizon. */
export function predictArgs(file: string): string[] {
  return ['predict', '--events', file, '--as-of', '2026-03-01T00:00:00Z', '--horizon', '30'];
}

/**
 * Serves one gRPC service of an in-process app on a free local port, serving at once: what a suite
 * points the CLI at. The caller shuts the server down.
 */
export async function serveGrpc<I extends object>(
  definition: ServiceDefinition,
  impl: I,
  fullName: string,
): Promise<{ server: GrpcServer; addr: string }> {
  const server = new GrpcServer(createLogger('kairosctl-test', 'silent'));
  server.addService(definition, impl, fullName);
  const addr = `127.0.0.1:${await server.start(0, '127.0.0.1')}`;
  server.setServing(true);
  return { server, addr };
}
