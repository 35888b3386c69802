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
