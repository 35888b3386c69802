import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** What `pnpm bench` was asked for: the suites to run and where to write the figures, if anywhere. */
export interface BenchArgs {
  suites: string[];
  /** The JSON file to write, or undefined to print the figures only. */
  out?: string;
}

/** The folder `--out` writes to by default, relative to the repository root. */
export const RESULTS_DIR = join('bench', 'results');

/**
 * Parses `[suite ...] [--out[=<file>]]`. A bare `--out` (or `KAIROS_BENCH_OUT=1`) writes to
 * `bench/results/<timestamp>.json` under `root`; `--out=<file>` (or `KAIROS_BENCH_OUT=<file>`) writes
 * to that file. It throws on any other option, naming it.
 */
export function parseBenchArgs(argv: string[], root: string, env: NodeJS.ProcessEnv, now: Date): BenchArgs {
  const suites: string[] = [];
  let out: string | undefined;
  const fromEnv = env.KAIROS_BENCH_OUT;
  if (fromEnv && fromEnv !== '0') out = fromEnv === '1' ? '' : fromEnv;
  for (const arg of argv) {
    if (arg === '--out') out = '';
    else if (arg.startsWith('--out=') && arg.length > '--out='.length) out = arg.slice('--out='.length);
    else if (arg.startsWith('-'))
      throw new Error(`unknown option ${arg}; usage: pnpm bench [suite ...] [--out[=<file>]]`);
    else suites.push(arg);
  }
  if (out === undefined) return { suites };
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  return { suites, out: out === '' ? join(root, RESULTS_DIR, `${stamp}.json`) : out };
}

/** The commit the benchmarked build came from, or undefined outside a git checkout. */
function gitCommit(root: string): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

/** Writes one run's figures, with when and from which commit they were measured, to `file`. */
export function writeBenchResults(
  file: string,
  root: string,
  suites: string[],
  figures: Record<string, number>,
  measuredAt: Date,
): void {
  mkdirSync(dirname(file), { recursive: true });
  const record = { measuredAt: measuredAt.toISOString(), commit: gitCommit(root), suites, figures };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
}
