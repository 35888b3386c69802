import { readFile } from 'node:fs/promises';
import { failed } from './errors';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A file's text, refusing bytes that are not UTF-8 (exit 1): decoding them leniently would turn
 * each into U+FFFD, so distinct ids in the file could become one.
 */
export async function readUtf8File(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw failed(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw failed(`${file}: not valid UTF-8 (save it as UTF-8)`);
  }
}

/** Where a command writes; tests capture it. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  /** Current time (ms), injectable for `--since`. */
  now(): number;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  now: () => Date.now(),
};

/** Left-aligned columns separated by two spaces. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
