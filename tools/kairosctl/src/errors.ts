/** Exit codes of kairosctl. */
export const EXIT = {
  ok: 0,
  /** The input's content is invalid, or the operation failed (not found, rejected). */
  failed: 1,
  /** Wrong command line: unknown command or flag, missing argument. */
  usage: 2,
  /** A server (NATS, ingest, pattern-detection) cannot be reached. */
  unreachable: 3,
} as const;

export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, message);
export const failed = (message: string) => new CliError(EXIT.failed, message);
export const unreachable = (message: string) => new CliError(EXIT.unreachable, message);
