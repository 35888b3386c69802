import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { testLogsEnabled } from './log';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
let ownProcessGroups = false;

/**
 * Children started from now on get their own process group, so a terminal's Ctrl-C reaches this
 * program only and it decides the order of stopping (the local runner drains services before NATS
 * and the database go). Tests leave it off: a CI job killing their process group kills the servers.
 */
export function childrenInOwnProcessGroup(): void {
  ownProcessGroups = true;
}

function killAllSync(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** Makes sure every child started by the testkit dies with the test process. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      // A program that handles the signal itself (the local runner drains its services before
      // stopping NATS and the database) stops its children; the exit hook still kills leftovers.
      if (process.listenerCount(signal) > 0) return;
      killAllSync();
      // Re-raise with the default disposition so the process still terminates as it would have.
      process.kill(process.pid, signal);
    });
  }
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcessOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How many output lines to keep. Default 2000. */
  maxLines?: number;
}

/** A spawned child whose output lines are buffered and which is killed when the test process exits. */
export class ManagedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private readonly lines: string[] = [];
  private readonly maxLines: number;
  private readonly lineListeners = new Set<(line: string) => void>();

  constructor(readonly options: ManagedProcessOptions) {
    installExitHook();
    this.maxLines = options.maxLines ?? 2000;
    this.child = spawn(options.command, options.args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: ownProcessGroups,
    });
    live.add(this.child);
    const echo = testLogsEnabled();
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        this.lines.push(line);
        if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
        if (echo) process.stderr.write(`[${options.name}] ${line}\n`);
        for (const listener of this.lineListeners) listener(line);
      });
    }
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.once('error', (err) => {
        this.lines.push(`[testkit] failed to start ${options.command}: ${err.message}`);
        live.delete(this.child);
        this.exitInfo ??= { code: null, signal: null };
        resolve(this.exitInfo);
      });
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        this.exitInfo ??= { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Exit information once the process has exited, otherwise undefined. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  logs(): string[] {
    return [...this.lines];
  }

  tail(count = 40): string {
    return this.lines.slice(-count).join('\n');
  }

  onLine(listener: (line: string) => void): () => void {
    this.lineListeners.add(listener);
    return () => this.lineListeners.delete(listener);
  }

  /** Sends `signal` and waits for the exit; escalates to SIGKILL after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const escalate = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, timeoutMs);
    });
    await Promise.race([this.exited, escalate]);
    clearTimeout(timer);
    return this.exited;
  }

  kill(): Promise<ExitInfo> {
    return this.stop('SIGKILL');
  }

  describeExit(): string {
    const info = this.exitInfo;
    if (!info) return 'still running';
    return info.signal ? `killed by ${info.signal}` : `exited with code ${info.code}`;
  }
}
