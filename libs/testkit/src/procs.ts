import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, clock ticks of 10 ms
}

/** A memory field of `/proc/<pid>/status` in MiB; 0 when the process is gone. */
function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 0;
  }
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
  return m ? Number(m[1]) / 1024 : 0;
}

/** Resident memory of a process, in MiB. */
export function rssMb(pid: number): number {
  return statusMb(pid, 'VmRSS');
}

/** Peak resident memory of a process since it started (the kernel's high-water mark), in MiB. */
export function peakRssMb(pid: number): number {
  return statusMb(pid, 'VmHWM');
}

/** Processes of the infrastructure serving this run (matched by the port in their command line). */
export function infraPids(ports: number[]): Array<[string, number]> {
  const found: Array<[string, number]> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    const name = /(nats-server|ferretdb|mongod)\b/.exec(cmd)?.[1];
    if (name && ports.some((p) => cmd.includes(String(p)))) found.push([name, Number(entry)]);
  }
  return found;
}
