import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './errors';

/**
 * Parses with node's parseArgs and strict flags; its errors become usage errors naming the command.
 * More than `positionals` arguments is a usage error too (`hint` is added to its message).
 */
export function parse<T extends ParseArgsConfig['options']>(
  command: string,
  args: string[],
  options: T,
  positionals = 0,
  hint = '',
): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: boolean }>> {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals > 0 });
  } catch (err) {
    throw usageError(`${command}: ${(err as Error).message}`);
  }
  if (parsed.positionals.length > positionals) {
    throw usageError(`${command}: unexpected argument '${parsed.positionals[positionals]}'${hint}`);
  }
  return parsed;
}

/** The `-o` output format of a command: table (the default) or json. */
export function outputFormat(command: string, value: string | undefined): 'table' | 'json' {
  const o = value ?? 'table';
  if (o !== 'table' && o !== 'json') throw usageError(`${command}: -o expects table or json, got '${o}'`);
  return o;
}
