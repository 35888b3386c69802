/**
 * Sends every object of rendered manifests to a real API server as a dry run with strict field
 * validation (what `kubectl apply --dry-run=server --validate=strict` does), and reports each
 * object the server rejects or warns about. Used by scripts/kube-validate.sh.
 *
 *   node tools/deploy/dist/src/dry-run.js <server-url> <cert-dir> <namespace> <file.yaml>...
 * cert-dir holds ca.crt, admin.crt and admin.key. Exit 0 when every object is accepted, 1 otherwise.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { objects, type K8sObject } from './helm';

/** Resource paths of the kinds the charts render. */
const PLURAL: Record<string, string> = {
  ConfigMap: 'configmaps',
  Secret: 'secrets',
  Service: 'services',
  ServiceAccount: 'serviceaccounts',
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  Job: 'jobs',
  HorizontalPodAutoscaler: 'horizontalpodautoscalers',
  PodDisruptionBudget: 'poddisruptionbudgets',
  NetworkPolicy: 'networkpolicies',
};

interface Reply {
  status: number;
  body: string;
  warning?: string;
}

function send(server: URL, agent: Agent, method: string, path: string, body: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: server.hostname,
        port: server.port,
        method,
        path,
        agent,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text,
            warning: res.headers.warning as string | undefined,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

export function resourcePath(o: K8sObject, namespace: string): string {
  const plural = PLURAL[o.kind];
  if (!plural) throw new Error(`${o.kind}/${o.metadata.name}: no resource path known for kind ${o.kind}`);
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  return `${base}/namespaces/${namespace}/${plural}?dryRun=All&fieldValidation=Strict`;
}

export async function dryRun(
  server: URL,
  certDir: string,
  namespace: string,
  files: string[],
): Promise<string[]> {
  const agent = new Agent({
    ca: readFileSync(join(certDir, 'ca.crt')),
    cert: readFileSync(join(certDir, 'admin.crt')),
    key: readFileSync(join(certDir, 'admin.key')),
  });
  const ns = await send(server, agent, 'POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: namespace },
  });
  if (ns.status >= 300 && ns.status !== 409)
    throw new Error(`cannot create namespace ${namespace}: ${ns.body}`);
  const problems: string[] = [];
  for (const file of files) {
    const objs = objects(readFileSync(file, 'utf8'));
    for (const o of objs) {
      const r = await send(server, agent, 'POST', resourcePath(o, namespace), o);
      if (r.status >= 300) {
        problems.push(
          `${file}: ${o.kind}/${o.metadata.name}: ${(JSON.parse(r.body) as { message: string }).message}`,
        );
      } else if (r.warning) {
        problems.push(`${file}: ${o.kind}/${o.metadata.name}: warning: ${r.warning}`);
      }
    }
    process.stdout.write(`${file}: ${objs.length} objects sent\n`);
  }
  return problems;
}

if (require.main === module) {
  const [server, certDir, namespace, ...files] = process.argv.slice(2);
  if (!server || !certDir || !namespace || files.length === 0) {
    process.stderr.write('usage: dry-run.js <server-url> <cert-dir> <namespace> <file.yaml>...\n');
    process.exit(2);
  }
  dryRun(new URL(server), certDir, namespace, files).then(
    (problems) => {
      for (const p of problems) process.stderr.write(`${p}\n`);
      process.stdout.write(
        problems.length
          ? `${problems.length} objects rejected\n`
          : 'every object accepted (strict, dry run)\n',
      );
      process.exit(problems.length ? 1 : 0);
    },
    (err: Error) => {
      process.stderr.write(`dry run failed: ${err.message}\n`);
      process.exit(1);
    },
  );
}
