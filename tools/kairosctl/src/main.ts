#!/usr/bin/env node
import { runCli } from './cli';

// `kairosctl … | head`: once the reader has gone, nothing more can be said; stop quietly, as a
// process killed by SIGPIPE would, instead of crashing on the unhandled write error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
