import { peakRssMb } from '@kairos/testkit';

/**
 * Peak resident memory per process name over a run. The kernel's high-water mark (VmHWM) of each
 * process is read once a second and at `stop()`, so a process killed and restarted contributes
 * the peak of every incarnation it had up to its last sample.
 */
export class PeakMemory {
  private readonly peaks = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly processes: () => Array<{ name: string; pid: number }>) {}

  start(intervalMs = 1_000): void {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    for (const { name, pid } of this.processes()) {
      const mb = peakRssMb(pid);
      if (mb > (this.peaks.get(name) ?? 0)) this.peaks.set(name, mb);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  /** `name MiB` pairs, largest first. */
  report(): Array<[string, number]> {
    return [...this.peaks]
      .map(([n, mb]): [string, number] => [n, Math.round(mb)])
      .sort((a, b) => b[1] - a[1]);
  }
}
