/**
 * Runs helm, kubeconform and the chart scripts for the deploy checks. The tools live in the cache
 * scripts/install-tools.sh fills (~/.cache/kairos/bin); `ensureChartTools` installs what is missing
 * and links the charts' local dependencies once per process.
 */
import { spawnSync } from 'node:child_process';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = resolve(__dirname, '..', '..', '..', '..');
export const BIN_DIR = process.env.KAIROS_BIN_DIR ?? join(homedir(), '.cache', 'kairos', 'bin');
export const KUBERNETES_VERSION = 'v1.37.2';
export const SCHEMA_DIR =
  process.env.KAIROS_KUBE_SCHEMA_DIR ??
  join(homedir(), '.cache', 'kairos', 'k8s', 'schemas', KUBERNETES_VERSION);

export const SERVICE_CHARTS = [
  'ingest',
  'enrichment',
  'pattern-detection',
  'orchestration',
  'delivery',
  'prediction',
  'analytics',
] as const;
export type ServiceName = (typeof SERVICE_CHARTS)[number];
export const CHARTS = [...SERVICE_CHARTS, 'kairos'] as const;

/** The three value profiles every chart is rendered with. */
export const PROFILES = {
  default: ['--set', 'dev.enabled=true'],
  minimal: ['-f', join(ROOT, 'deploy/helm/kairos/values-minimal.yaml')],
  production: ['-f', join(ROOT, 'deploy/helm/kairos/values-production.yaml')],
} as const;
export type Profile = keyof typeof PROFILES;

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: readonly string[], input?: string): Run {
  const r = spawnSync(command, args, {
    cwd: ROOT,
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, PATH: `${BIN_DIR}:${process.env.PATH ?? ''}` },
  });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

let prepared = false;
/** Installs helm, kubeconform and the schemas when missing, and links the charts (idempotent). */
export function ensureChartTools(): void {
  if (prepared) return;
  for (const [cmd, args] of [
    ['bash', ['scripts/install-tools.sh', 'helm', 'kubeconform', 'kube-schemas']],
    ['bash', ['scripts/helm-deps.sh']],
  ] as const) {
    const r = run(cmd, args);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  }
  prepared = true;
}

export function helm(args: readonly string[]): Run {
  return run(join(BIN_DIR, 'helm'), args);
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, any>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** `helm template` of a chart; throws with helm's message when rendering fails. */
/** `helm template` and `lint` render for this version (without it Helm assumes v1.20, below the charts' minimum). */
export const KUBE_VERSION_ARGS = ['--kube-version', KUBERNETES_VERSION] as const;

export function template(chart: string, args: readonly string[] = [], release = 'kairos'): string {
  const r = helm(['template', release, join(ROOT, 'deploy/helm', chart), ...KUBE_VERSION_ARGS, ...args]);
  if (r.status !== 0) throw new Error(r.stderr.trim());
  return r.stdout;
}

export function objects(yamlText: string): K8sObject[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** kubeconform, strict, against the schemas made from the Kubernetes OpenAPI document. */
export function kubeconform(yamlText: string): Run {
  return run(
    join(BIN_DIR, 'kubeconform'),
    [
      '-strict',
      '-summary',
      '-schema-location',
      join(SCHEMA_DIR, '{{ .ResourceKind }}{{ .KindSuffix }}.json'),
      '-',
    ],
    yamlText,
  );
}
