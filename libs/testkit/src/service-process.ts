import { get } from 'node:http';
import { credentials, Metadata } from '@grpc/grpc-js';
import { health } from '@kairos/contracts';
import { credentialsEnv } from './credentials';
import { ManagedProcess } from './process';
import { waitFor } from './wait';

export type Readiness =
  | {
      grpcPort: number;
      grpcHost?: string;
      /** Health service name; '' (whole server) by default. */ service?: string;
    }
  | { httpUrl: string };

export interface StartServiceProcessOptions {
  /** Label used in log prefixes and errors. */
  name: string;
  /** Path to the compiled entry point (e.g. `services/ingest/dist/src/main.js`). */
  script: string;
  /** Environment added to (and overriding) the test process environment. */
  env?: Record<string, string | undefined>;
  readiness: Readiness;
  /** Module preloaded with `node --require` (e.g. the telemetry bootstrap). */
  requireTelemetry?: string;
  /** Extra node arguments placed before the script. */
  nodeArgs?: string[];
  cwd?: string;
  /** Deadline for readiness. Default 30 000 ms. */
  readyTimeoutMs?: number;
}

export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  /** Every output line (stdout and stderr) so far. */
  logs(): string[];
  /** Resolves when a line matching `pattern` has been logged (including earlier lines). */
  waitForLog(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Sends `signal` (default SIGTERM), waits for the exit and returns the exit code (null when killed). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILLs the process and waits for it to be gone. */
  kill(): Promise<void>;
  readonly running: boolean;
}

function grpcServing(host: string, port: number, service: string): Promise<boolean> {
  const client = new health.HealthClient(`${host}:${port}`, credentials.createInsecure());
  return new Promise<boolean>((resolve, reject) => {
    client.check({ service }, new Metadata(), { deadline: Date.now() + 1000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res.status === health.HealthCheckResponse_ServingStatus.SERVING);
    });
  });
}

function httpOk(url: string): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const req = get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/**
 * Spawns `node [--require <telemetry>] <script>` with `env` (and the test credentials, see
 * testCredentials), buffers its output lines (echoed when
 * `KAIROS_TEST_LOGS=1`) and waits until it is ready: gRPC health `Check` answers SERVING, or the HTTP
 * URL answers 200. Fails with the last log lines when the process exits first or the deadline passes.
 * The child is SIGKILLed if the test process exits.
 */
export async function startServiceProcess(options: StartServiceProcessOptions): Promise<ServiceProcess> {
  const args = [...(options.nodeArgs ?? [])];
  if (options.requireTelemetry) args.push('--require', options.requireTelemetry);
  args.push(options.script);
  // The test credentials come first: the test's own env may replace or (undefined) remove them.
  const env: NodeJS.ProcessEnv = { ...process.env, ...credentialsEnv() };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const proc = new ManagedProcess({
    name: options.name,
    command: process.execPath,
    args,
    env,
    cwd: options.cwd,
  });
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const readiness = options.readiness;
  const check =
    'httpUrl' in readiness
      ? () => httpOk(readiness.httpUrl)
      : () => grpcServing(readiness.grpcHost ?? '127.0.0.1', readiness.grpcPort, readiness.service ?? '');
  const what = 'httpUrl' in readiness ? `GET ${readiness.httpUrl} = 200` : `gRPC health SERVING`;
  try {
    await waitFor(async () => !proc.running || (await check()), {
      timeoutMs,
      intervalMs: 100,
      message: `${options.name} to be ready (${what})`,
    });
  } catch (err) {
    await proc.kill();
    throw new Error(`${(err as Error).message}\n--- last output of ${options.name} ---\n${proc.tail()}`);
  }
  if (!proc.running) {
    throw new Error(
      `${options.name} ${proc.describeExit()} before becoming ready (${what})\n` +
        `--- last output of ${options.name} ---\n${proc.tail()}`,
    );
  }

  return {
    name: options.name,
    pid: proc.pid,
    get running() {
      return proc.running;
    },
    logs: () => proc.logs(),
    waitForLog(pattern, logTimeoutMs = 10_000) {
      const test = (line: string): boolean =>
        typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line);
      const earlier = proc.logs().find(test);
      if (earlier !== undefined) return Promise.resolve(earlier);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(
            new Error(`${options.name}: no log line matching ${String(pattern)} within ${logTimeoutMs} ms`),
          );
        }, logTimeoutMs);
        const off = proc.onLine((line) => {
          if (!test(line)) return;
          clearTimeout(timer);
          off();
          resolve(line);
        });
      });
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', stopTimeoutMs = 15_000) {
      const info = await proc.stop(signal, stopTimeoutMs);
      return info.code;
    },
    async kill() {
      await proc.kill();
    },
  };
}
