import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { logOnce } from './log';
import { withTimeout } from './wait';

/** Upper bound for the whole detection, so a machine without an engine falls back quickly. */
const DETECTION_BUDGET_MS = 4_000;
const PING_TIMEOUT_MS = 1_500;

let cached: Promise<boolean> | undefined;

interface Endpoint {
  socketPath?: string;
  host?: string;
  port?: number;
  label: string;
}

function endpointFrom(dockerHost: string): Endpoint | undefined {
  if (dockerHost.startsWith('unix://')) {
    const socketPath = dockerHost.slice('unix://'.length);
    return existsSync(socketPath) ? { socketPath, label: dockerHost } : undefined;
  }
  if (dockerHost.startsWith('tcp://') || dockerHost.startsWith('http://')) {
    const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
    return { host: url.hostname, port: Number(url.port || 2375), label: dockerHost };
  }
  // ssh:// and npipe:// hosts cannot be pinged cheaply here: let testcontainers decide.
  return { label: dockerHost };
}

function propertiesDockerHost(): string | undefined {
  const file = join(homedir(), '.testcontainers.properties');
  if (!existsSync(file)) return undefined;
  const match = /^\s*docker\.host\s*=\s*(.+)$/m.exec(readFileSync(file, 'utf8'));
  return match?.[1].trim();
}

/** Candidate engine endpoints in the order the Docker CLI and testcontainers would use them. */
function candidateEndpoints(): Endpoint[] {
  const explicit = process.env.DOCKER_HOST || propertiesDockerHost();
  if (explicit) {
    const endpoint = endpointFrom(explicit);
    return endpoint ? [endpoint] : [];
  }
  const sockets = [
    '/var/run/docker.sock',
    join(homedir(), '.docker', 'run', 'docker.sock'),
    join(homedir(), '.docker', 'desktop', 'docker.sock'),
    join(homedir(), '.rd', 'docker.sock'),
    process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'podman', 'podman.sock') : '',
    process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'docker.sock') : '',
  ].filter((p) => p && existsSync(p));
  return sockets.map((socketPath) => ({ socketPath, label: `unix://${socketPath}` }));
}

/** GET /_ping against the engine API; true when it answers 200. */
function ping(endpoint: Endpoint): Promise<boolean> {
  if (!endpoint.socketPath && !endpoint.host) return Promise.resolve(true);
  return new Promise((resolve) => {
    const req = request(
      {
        socketPath: endpoint.socketPath,
        host: endpoint.host,
        port: endpoint.port,
        path: '/_ping',
        method: 'GET',
        timeout: PING_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function skippedByFlag(): boolean {
  const flag = process.env.KAIROS_TESTCONTAINERS;
  return flag === '0' || flag === 'false';
}

async function detect(): Promise<boolean> {
  if (skippedByFlag()) return false;
  const endpoints = candidateEndpoints();
  if (endpoints.length === 0) return false;
  let answered = false;
  for (const endpoint of endpoints) {
    if (await ping(endpoint)) {
      answered = true;
      break;
    }
  }
  if (!answered) return false;
  // The engine answers: confirm testcontainers itself can use it (loaded lazily: it is heavy).
  const { getContainerRuntimeClient } = await import('testcontainers');
  await getContainerRuntimeClient();
  return true;
}

/** Runs the detection without the per-process cache (bounded like `containerRuntimeAvailable`). */
export function detectContainerRuntime(): Promise<boolean> {
  return withTimeout(detect(), DETECTION_BUDGET_MS, 'container runtime detection timed out');
}

/**
 * Whether a container runtime answers. Bounded (a few seconds at most, immediate when no engine
 * endpoint exists), cached per process; `KAIROS_TESTCONTAINERS=0` skips it.
 */
export function containerRuntimeAvailable(): Promise<boolean> {
  if (skippedByFlag()) return Promise.resolve(false);
  cached ??= detectContainerRuntime().catch((err: Error) => {
    logOnce('container-runtime', `container runtime not usable (${err.message}); using local binaries`);
    return false;
  });
  return cached;
}
