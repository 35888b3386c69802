/**
 * The single-node cluster of `pnpm test:k8s`: scripts/kube-up.sh and kube-down.sh, kubectl and helm
 * against its kubeconfig, and the phase timings the suite prints. Commands run asynchronously, so a
 * test can keep sending events while `helm upgrade` rolls pods.
 */
import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { BIN_DIR, ROOT } from '../../src/helm';

const K8S_BIN = join(process.env.KAIROS_CACHE_DIR ?? join(homedir(), '.cache', 'kairos'), 'k8s', 'bin');

/** Runs a command in the repository; rejects with the tail of its output when it fails. */
export function sh(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 30 * 60_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: ROOT,
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
        timeout: timeoutMs,
        env: { ...process.env, PATH: `${K8S_BIN}:${BIN_DIR}:${process.env.PATH ?? ''}`, ...env },
      },
      (err, stdout, stderr) => {
        if (err) {
          const output = `${stdout}${stderr}`.slice(-6000);
          reject(new Error(`${command} ${args.join(' ')} failed (${err.message.split('\n')[0]}):\n${output}`));
        } else resolve(stdout);
      },
    );
  });
}

export interface PodInfo {
  name: string;
  uid: string;
  ready: boolean;
  phase: string;
  ip: string;
  images: string[];
  restarts: number;
  /** app.kubernetes.io/name */
  app: string;
}

interface PodJson {
  metadata: {
    name: string;
    uid: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind: string }[];
  };
  spec: { containers: { image: string }[] };
  status: {
    phase: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount: number }[];
  };
}

export class Cluster {
  readonly env: NodeJS.ProcessEnv;

  constructor(
    readonly kubeconfig: string,
    readonly namespace: string,
  ) {
    this.env = { KUBECONFIG: kubeconfig };
  }

  /** Starts the cluster (or reuses a running one) and returns it. */
  static async up(namespace: string): Promise<Cluster> {
    const out = await sh('bash', ['scripts/kube-up.sh']);
    return new Cluster(out.trim().split('\n').pop() ?? '', namespace);
  }

  static down(): Promise<string> {
    return sh('bash', ['scripts/kube-down.sh']);
  }

  kubectl(args: readonly string[]): Promise<string> {
    return sh('kubectl', ['-n', this.namespace, ...args], this.env, 5 * 60_000);
  }

  helm(args: readonly string[]): Promise<string> {
    return sh('helm', ['-n', this.namespace, ...args], this.env, 10 * 60_000);
  }

  async json<T>(args: readonly string[]): Promise<T> {
    return JSON.parse(await this.kubectl([...args, '-o', 'json'])) as T;
  }

  /** The node's address: the pods reach the host there (the SMTP peer listens on it). */
  async nodeIp(): Promise<string> {
    const out = await sh(
      'kubectl',
      ['get', 'nodes', '-o', 'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}'],
      this.env,
    );
    return out.trim();
  }

  /** The API server's URL and the directory of its CA and the admin client certificate. */
  async apiServer(): Promise<{ url: string; certDir: string }> {
    const view = (path: string) =>
      sh('kubectl', ['config', 'view', '-o', `jsonpath={.clusters[0].cluster.${path}}`], this.env).then((o) => o.trim());
    const [url, ca] = await Promise.all([view('server'), view('certificate-authority')]);
    return { url, certDir: dirname(ca) };
  }

  async clusterIp(service: string): Promise<string> {
    return (await this.kubectl(['get', 'service', service, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  }

  /**
   * The namespace's long-running pods: a hook Job's pod is not one of them, nor (unless asked) a pod
   * already terminating.
   */
  async pods(options: { terminating?: boolean } = {}): Promise<PodInfo[]> {
    const list = await this.json<{ items: PodJson[] }>(['get', 'pods']);
    return list.items
      .filter((p) => !p.metadata.ownerReferences?.some((o) => o.kind === 'Job'))
      .filter((p) => options.terminating || !p.metadata.deletionTimestamp)
      .map((p) => ({
        name: p.metadata.name,
        uid: p.metadata.uid,
        phase: p.status.phase,
        ip: p.status.podIP ?? '',
        ready: p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        images: p.spec.containers.map((c) => c.image),
        restarts: (p.status.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0),
        app: p.metadata.labels?.['app.kubernetes.io/name'] ?? '',
      }));
  }
}

/** Wall-clock time of each phase, printed as a table at the end of the suite. */
export class Timings {
  private readonly rows: Array<[string, number]> = [];

  async phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      this.rows.push([name, Date.now() - t0]);
    }
  }

  render(): string {
    const width = Math.max(...this.rows.map(([n]) => n.length), 5);
    const lines = this.rows.map(([n, ms]) => `  ${n.padEnd(width)}  ${(ms / 1000).toFixed(1).padStart(7)} s`);
    const total = this.rows.reduce((s, [, ms]) => s + ms, 0);
    return ['k8s phase timings:', ...lines, `  ${'total'.padEnd(width)}  ${(total / 1000).toFixed(1).padStart(7)} s`].join(
      '\n',
    );
  }
}
