import type { Mesh } from '../mesh';
import { describeFault, type Fault, type PlannedFault } from './plan';

/** What a fault did and for how long the part it hit was unavailable. */
export interface Outage {
  fault: string;
  /** The services killed by the fault (none for the other kinds). */
  killed: string[];
  startedAt: number;
  endedAt: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Injects planned faults into a running mesh, one after the other, and records each outage: from
 * the fault until the part it hit answers again (a restarted service SERVING, NATS answering
 * JetStream requests, the database answering `ping`). Services that exit on their own are crashes:
 * they are counted, named and restarted so the run goes on.
 */
export class FaultInjector {
  readonly outages: Outage[] = [];
  readonly crashes: string[] = [];

  constructor(
    private readonly mesh: Mesh,
    private readonly log: (line: string) => void,
  ) {}

  /** Runs the plan until its end or until `signal` aborts; resolves when the last fault recovered. */
  async run(plan: PlannedFault[], signal?: AbortSignal): Promise<void> {
    for (const { gapMs, fault } of plan) {
      await sleep(gapMs);
      if (signal?.aborted) return;
      await this.inject(fault);
      await this.restartCrashed();
    }
  }

  /** Restarts every service that is not running although no fault stopped it. */
  async restartCrashed(): Promise<void> {
    for (const [name, service] of this.mesh.services) {
      if (service.process.running) continue;
      this.crashes.push(name);
      this.log(
        `chaos: ${name} exited on its own; restarting it\n${service.process.logs().slice(-15).join('\n')}`,
      );
      await this.mesh.restartService(name);
    }
  }

  private async inject(fault: Fault): Promise<void> {
    const what = describeFault(fault);
    const startedAt = Date.now();
    this.log(`chaos: ${what}`);
    switch (fault.kind) {
      case 'kill':
        await Promise.all(fault.services.map((name) => this.mesh.services.get(name)!.process.kill()));
        await Promise.all(fault.services.map((name) => this.mesh.restartService(name)));
        break;
      case 'restart-nats':
        await this.mesh.nats.kill();
        await this.mesh.nats.start();
        break;
      case 'stop-db':
        await this.mesh.mongo.halt();
        await sleep(fault.downMs);
        await this.mesh.mongo.resume();
        break;
      case 'pause': {
        const pid = this.mesh.services.get(fault.service)!.process.pid;
        process.kill(pid, 'SIGSTOP');
        await sleep(fault.pausedMs);
        process.kill(pid, 'SIGCONT');
        break;
      }
    }
    const endedAt = Date.now();
    this.outages.push({
      fault: what,
      killed: fault.kind === 'kill' ? fault.services : [],
      startedAt,
      endedAt,
    });
    this.log(`chaos: recovered after ${endedAt - startedAt} ms`);
  }
}
