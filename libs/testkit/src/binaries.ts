import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Directory where `scripts/install-tools.sh` puts infrastructure binaries. */
export function kairosBinDir(): string {
  return process.env.KAIROS_BIN_DIR || join(homedir(), '.cache', 'kairos', 'bin');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds an executable by name on PATH, then in the Kairos binary cache. */
export function findBinary(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  dirs.push(kairosBinDir());
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function missingBinaryError(what: string, names: string[]): Error {
  return new Error(
    `testkit: no ${what} available. Set ${what === 'NATS' ? 'NATS_URL' : 'MONGO_URL'}, start a container ` +
      `runtime, or install a local binary (${names.join(' / ')}) with 'scripts/install-tools.sh' ` +
      `(it installs into ${kairosBinDir()}; override with KAIROS_BIN_DIR).`,
  );
}
