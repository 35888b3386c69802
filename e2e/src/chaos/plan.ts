import { Rng } from '@kairos/loadgen';

/** One fault the chaos suite injects while the load runs. */
export type Fault =
  | { kind: 'kill'; services: string[] }
  | { kind: 'restart-nats' }
  | { kind: 'stop-db'; downMs: number }
  | { kind: 'pause'; service: string; pausedMs: number };

/** A fault and the pause before it, in the order the run injects them. */
export interface PlannedFault {
  /** Wait after the previous fault recovered (or after the load started) before this one. */
  gapMs: number;
  fault: Fault;
}

export interface ChaosProfile {
  name: 'short' | 'long';
  /** Simulated customers and the sustained offered load, events per second. */
  customers: number;
  rate: number;
  /** Load kept up after the last fault recovered, so the mesh is seen working again under load. */
  tailMs: number;
  /** Pauses between faults, drawn uniformly from this range. */
  gapMs: [number, number];
  /** Delivery's ack wait in the run; a pause of delivery lasts longer than it. */
  deliveryAckWaitMs: number;
  /** A burst of `burstFactor` × rate for `burstMs` after the faults (0: none). */
  burstFactor: number;
  burstMs: number;
  /** Whether every service is killed in turn (long) or a random one (short). */
  killEach: boolean;
  /** Services paused, with the ack wait each must outlast. */
  pauses: Array<{ service: string; ackWaitMs: number }>;
}

/** The consumers' ack wait outside delivery (`consumerSpec` in @kairos/contracts). */
export const DEFAULT_ACK_WAIT_MS = 30_000;

export const PROFILES: Record<ChaosProfile['name'], ChaosProfile> = {
  short: {
    name: 'short',
    customers: 300,
    rate: 30,
    tailMs: 5_000,
    gapMs: [1_000, 4_000],
    deliveryAckWaitMs: 5_000,
    burstFactor: 0,
    burstMs: 0,
    killEach: false,
    pauses: [{ service: 'delivery', ackWaitMs: 5_000 }],
  },
  long: {
    name: 'long',
    customers: 1_000,
    rate: 50,
    tailMs: 10_000,
    gapMs: [2_000, 8_000],
    deliveryAckWaitMs: 5_000,
    burstFactor: 10,
    burstMs: 10_000,
    killEach: true,
    pauses: [
      { service: 'delivery', ackWaitMs: 5_000 },
      { service: 'orchestration', ackWaitMs: DEFAULT_ACK_WAIT_MS },
    ],
  },
};

/** Longer than the ack wait by this much, so the server has redelivered before the process resumes. */
const PAUSE_MARGIN_MS = 3_000;
/** The database outage. */
export const DB_DOWN_MS = 10_000;

/**
 * The faults of one run, in a seeded random order with seeded pauses between them: every service
 * killed with SIGKILL (each in turn, or one at random in the short profile), two killed at once, a
 * NATS restart, the database stopped for 10 s, and each paused service stopped (SIGSTOP) for longer
 * than its ack wait. The same seed, profile and services give the same plan.
 */
export function planFaults(seed: number, profile: ChaosProfile, services: readonly string[]): PlannedFault[] {
  const rng = Rng.derive(seed, 'chaos-plan');
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng.next() * items.length)];
  const faults: Fault[] = [];
  const killed = profile.killEach ? [...services] : [pick(services)];
  for (const service of killed) faults.push({ kind: 'kill', services: [service] });
  const first = pick(services);
  const second = pick(services.filter((s) => s !== first));
  faults.push({ kind: 'kill', services: [first, second] });
  faults.push({ kind: 'restart-nats' });
  faults.push({ kind: 'stop-db', downMs: DB_DOWN_MS });
  for (const { service, ackWaitMs } of profile.pauses) {
    faults.push({ kind: 'pause', service, pausedMs: ackWaitMs + PAUSE_MARGIN_MS });
  }
  // Fisher-Yates with the seeded stream.
  for (let i = faults.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [faults[i], faults[j]] = [faults[j], faults[i]];
  }
  const [lo, hi] = profile.gapMs;
  return faults.map((fault) => ({ gapMs: Math.round(lo + rng.next() * (hi - lo)), fault }));
}

/** A fault as one line of the run's report. */
export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'kill':
      return `kill -9 ${fault.services.join(' + ')}`;
    case 'restart-nats':
      return 'kill -9 nats-server, start it on the same store';
    case 'stop-db':
      return `stop the database for ${fault.downMs / 1000} s`;
    case 'pause':
      return `SIGSTOP ${fault.service} for ${fault.pausedMs / 1000} s`;
  }
}
