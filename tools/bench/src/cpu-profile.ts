import { join } from 'node:path';

/** KAIROS_BENCH_CPU_PROFILE_DIR=<dir>: each service started by a suite writes a V8 CPU profile under <dir>/<name>. */
export function cpuProfileArgs(service: string): string[] | undefined {
  const dir = process.env.KAIROS_BENCH_CPU_PROFILE_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, service)}`] : undefined;
}
