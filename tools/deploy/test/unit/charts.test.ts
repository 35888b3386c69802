import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  CHARTS,
  ensureChartTools,
  helm,
  KUBE_VERSION_ARGS,
  kubeconform,
  objects,
  PROFILES,
  ROOT,
  run,
  SERVICE_CHARTS,
  template,
  type K8sObject,
  type Profile,
  type ServiceName,
} from '../../src/helm';
import { VALUES_REFERENCE_PATH, valuesReference } from '../../src/values-reference';

/** What each service needs (mirrors deploy/helm/charts.mjs, stated here independently). */
const EXPECTED: Record<
  ServiceName,
  {
    grpc: number;
    http: number;
    partitioned: boolean;
    mongo: boolean;
    public: number[];
    callers: string[];
    peers: string[];
  }
> = {
  ingest: {
    grpc: 50051,
    http: 8081,
    partitioned: false,
    mongo: false,
    public: [50051, 8081],
    callers: [],
    peers: [],
  },
  enrichment: {
    grpc: 50052,
    http: 8082,
    partitioned: true,
    mongo: true,
    public: [],
    callers: ['delivery', 'orchestration'],
    peers: [],
  },
  'pattern-detection': {
    grpc: 50053,
    http: 8083,
    partitioned: true,
    mongo: false,
    public: [],
    callers: [],
    peers: [],
  },
  orchestration: {
    grpc: 50054,
    http: 8084,
    partitioned: true,
    mongo: true,
    public: [],
    callers: [],
    peers: ['enrichment', 'prediction'],
  },
  delivery: {
    grpc: 50055,
    http: 8085,
    partitioned: false,
    mongo: true,
    public: [8085],
    callers: [],
    peers: ['enrichment'],
  },
  prediction: {
    grpc: 50057,
    http: 8087,
    partitioned: true,
    mongo: true,
    public: [],
    callers: ['orchestration'],
    peers: [],
  },
  analytics: {
    grpc: 50056,
    http: 8086,
    partitioned: false,
    mongo: true,
    public: [8086],
    callers: [],
    peers: [],
  },
};

const named = (objs: K8sObject[], kind: string, name: string): K8sObject => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `no ${kind} ${name} among ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
};

/** A service chart's values as a team deploying it alone would pass them: the profile's global + its section. */
function serviceProfileArgs(service: ServiceName, profile: Profile, dir: string): string[] {
  if (profile === 'default') return [];
  const umbrella = parse(
    readFileSync(join(ROOT, `deploy/helm/kairos/values-${profile}.yaml`), 'utf8'),
  ) as Record<string, unknown>;
  const file = join(dir, `${service}-${profile}.yaml`);
  writeFileSync(file, stringify({ global: umbrella.global ?? {}, ...((umbrella[service] as object) ?? {}) }));
  return ['-f', file];
}

describe('deploy: Helm charts', function () {
  this.timeout(60_000);
  const rendered = new Map<Profile, string>();
  let tmp: string;

  before(function () {
    this.timeout(20 * 60_000); // helm and kubeconform are built from source the first time
    ensureChartTools();
    tmp = mkdtempSync(join(tmpdir(), 'kairos-charts-'));
    for (const p of Object.keys(PROFILES) as Profile[]) rendered.set(p, template('kairos', PROFILES[p]));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('every chart passes helm lint --strict with each of the three value profiles', () => {
    for (const chart of CHARTS) {
      for (const profile of Object.keys(PROFILES) as Profile[]) {
        const args =
          chart === 'kairos'
            ? [...PROFILES[profile]]
            : serviceProfileArgs(chart as ServiceName, profile, tmp);
        const r = helm(['lint', '--strict', ...KUBE_VERSION_ARGS, join(ROOT, 'deploy/helm', chart), ...args]);
        assert.equal(r.status, 0, `helm lint ${chart} (${profile}):\n${r.stdout}${r.stderr}`);
      }
    }
    const lib = helm(['lint', '--strict', join(ROOT, 'deploy/helm/kairos-lib')]);
    assert.equal(lib.status, 0, lib.stdout + lib.stderr);
  });

  it('every service chart renders alone with each profile, and kubeconform accepts it strictly', () => {
    for (const service of SERVICE_CHARTS) {
      for (const profile of Object.keys(PROFILES) as Profile[]) {
        const text = template(service, serviceProfileArgs(service, profile, tmp));
        const kinds = objects(text).map((o) => o.kind);
        assert.ok(
          kinds.includes(EXPECTED[service].partitioned ? 'StatefulSet' : 'Deployment'),
          `${service}: ${kinds}`,
        );
        const v = kubeconform(text);
        assert.equal(v.status, 0, `${service} (${profile}):\n${v.stdout}${v.stderr}`);
      }
    }
  });

  it('the umbrella renders with each profile and every object passes strict kubeconform validation', () => {
    for (const [profile, text] of rendered) {
      const v = kubeconform(text);
      assert.equal(v.status, 0, `${profile}:\n${v.stdout}${v.stderr}`);
      assert.match(v.stdout, /Invalid: 0, Errors: 0, Skipped: 0/);
    }
  });

  it('kubeconform rejects an object with an unknown field (the strict guard works)', () => {
    const text = rendered
      .get('default')!
      .replace('revisionHistoryLimit: 5', 'revisionHistoryLimit: 5\n  replicaz: 3');
    assert.notEqual(kubeconform(text).status, 0);
  });

  for (const service of SERVICE_CHARTS) {
    it(`${service}: gRPC health readiness, HTTP liveness, resources and a locked-down security context`, () => {
      const e = EXPECTED[service];
      const objs = objects(rendered.get('default')!);
      const workload = named(objs, e.partitioned ? 'StatefulSet' : 'Deployment', `kairos-${service}`);
      const pod = workload.spec!.template.spec;
      const [c] = pod.containers;
      assert.deepEqual(c.readinessProbe.grpc, { port: e.grpc });
      assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
      assert.deepEqual(c.startupProbe.httpGet, { path: '/healthz', port: 'http' });
      assert.deepEqual(
        c.ports.map((p: { containerPort: number }) => p.containerPort),
        [e.grpc, e.http],
      );
      assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
      assert.equal(c.image, 'kairos/' + service + ':0.1.0');
      assert.deepEqual(c.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
      assert.equal(pod.automountServiceAccountToken, false);
      assert.ok(
        c.volumeMounts.some((m: { mountPath: string }) => m.mountPath === '/tmp'),
        'a writable /tmp on the read-only root',
      );
      // The endpoint goes first (preStop), then the drain, which ends before the kubelet's SIGKILL.
      assert.deepEqual(c.lifecycle.preStop, { sleep: { seconds: 5 } });
      assert.equal(pod.terminationGracePeriodSeconds, 30);
      assert.equal(named(objs, 'ConfigMap', `kairos-${service}`).data!.KAIROS_DRAIN_TIMEOUT, '20s');
    });

    it(`${service}: its NetworkPolicy admits only its callers and reaches only what it needs`, () => {
      const e = EXPECTED[service];
      const np = named(objects(rendered.get('default')!), 'NetworkPolicy', `kairos-${service}`).spec!;
      assert.deepEqual(np.policyTypes, ['Ingress', 'Egress']);
      assert.deepEqual(np.podSelector.matchLabels, {
        'app.kubernetes.io/name': service,
        'app.kubernetes.io/instance': 'kairos',
      });
      type Rule = {
        from?: Array<{ podSelector?: { matchLabels: Record<string, string> } }>;
        ports: Array<{ port: number }>;
      };
      const ingress = (np.ingress ?? []) as Rule[];
      const open = ingress.filter((r) => !r.from).flatMap((r) => r.ports.map((p) => p.port));
      assert.deepEqual(open.sort(), [...e.public].sort(), 'ports open to anyone');
      const callers = ingress
        .filter((r) => r.from)
        .flatMap((r) => r.from!.map((f) => f.podSelector?.matchLabels['app.kubernetes.io/name']));
      assert.deepEqual(callers.sort(), e.callers);
      const egress = np.egress as Array<
        Rule & { to?: Array<{ podSelector: { matchLabels: Record<string, string> } }> }
      >;
      const anywhere = egress.filter((r) => !r.to).flatMap((r) => r.ports.map((p) => p.port));
      assert.ok(anywhere.includes(53) && anywhere.includes(4222), 'DNS and NATS');
      assert.equal(anywhere.includes(27017), e.mongo, 'MongoDB only for services that use it');
      const peers = egress
        .filter((r) => r.to)
        .map((r) => r.to![0].podSelector.matchLabels['app.kubernetes.io/name']);
      assert.deepEqual(peers, e.peers);
      if (service === 'delivery') for (const port of [25, 465, 587, 443]) assert.ok(anywhere.includes(port));
      else
        assert.deepEqual(
          anywhere.filter((p) => ![53, 4222, 27017].includes(p)),
          [],
        );
    });
  }

  it('a partition-owning service is a StatefulSet whose pods take their ordinal from the pod index', () => {
    const objs = objects(rendered.get('production')!);
    for (const service of SERVICE_CHARTS.filter((s) => EXPECTED[s].partitioned)) {
      const sts = named(objs, 'StatefulSet', `kairos-${service}`);
      assert.equal(sts.spec!.replicas, 3);
      assert.equal(sts.spec!.podManagementPolicy, 'Parallel');
      const env = sts.spec!.template.spec.containers[0].env as Array<{ name: string; valueFrom?: any }>;
      const ordinal = env.find((v) => v.name === 'KAIROS_REPLICA_ORDINAL');
      assert.equal(ordinal?.valueFrom.fieldRef.fieldPath, "metadata.labels['apps.kubernetes.io/pod-index']");
      const config = named(objs, 'ConfigMap', `kairos-${service}`).data!;
      assert.equal(config.KAIROS_REPLICAS, '3');
      assert.equal(config.KAIROS_PARTITIONS, '32');
      assert.ok(
        !objs.some((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name === `kairos-${service}`),
      );
    }
    const hpa = named(objs, 'HorizontalPodAutoscaler', 'kairos-ingest');
    assert.equal(hpa.spec!.minReplicas, 3);
    const deployment = named(objs, 'Deployment', 'kairos-ingest');
    assert.equal(deployment.spec!.replicas, undefined, 'the HPA owns the replica count');
  });

  it('production takes NATS and MongoDB URLs from Secrets and never writes them into a ConfigMap', () => {
    const objs = objects(rendered.get('production')!);
    for (const service of SERVICE_CHARTS) {
      const config = named(objs, 'ConfigMap', `kairos-${service}`).data!;
      assert.equal(config.NATS_URL, undefined);
      assert.equal(config.MONGO_URL, undefined);
      const workload = objs.find(
        (o) => ['Deployment', 'StatefulSet'].includes(o.kind) && o.metadata.name === `kairos-${service}`,
      )!;
      const env = workload.spec!.template.spec.containers[0].env as Array<{ name: string; valueFrom?: any }>;
      assert.deepEqual(env.find((v) => v.name === 'NATS_URL')?.valueFrom.secretKeyRef, {
        name: 'kairos-nats',
        key: 'NATS_URL',
      });
      assert.deepEqual(env.find((v) => v.name === 'MONGO_URL')?.valueFrom.secretKeyRef, {
        name: 'kairos-mongo',
        key: 'MONGO_URL',
      });
    }
    assert.ok(!objs.some((o) => o.metadata.name === 'kairos-nats' || o.metadata.name === 'kairos-ferretdb'));
    const job = named(objs, 'Job', 'kairos-provision');
    assert.equal(job.metadata.annotations!['helm.sh/hook'], 'pre-install,pre-upgrade');
    assert.ok(!objs.some((o) => o.kind === 'Secret'), 'production NATS passwords are Secrets of its own');
  });

  it('dev.enabled adds NATS with JetStream and FerretDB, and the services point at them', () => {
    const objs = objects(rendered.get('default')!);
    const nats = named(objs, 'StatefulSet', 'kairos-nats').spec!.template.spec.containers[0];
    assert.ok(nats.command.includes('--jetstream'));
    named(objs, 'Deployment', 'kairos-ferretdb');
    const config = named(objs, 'ConfigMap', 'kairos-orchestration').data!;
    assert.equal(config.NATS_URL, 'nats://kairos-nats:4222');
    assert.equal(config.MONGO_URL, 'mongodb://kairos-ferretdb:27017');
    assert.equal(config.KAIROS_PROFILE_ADDR, 'kairos-enrichment:50052');
    // The dev NATS is part of the release, so provisioning is an object of the release (one Job per
    // revision) that runs next to the services, which wait for their consumers.
    assert.equal(named(objs, 'Job', 'kairos-provision-1').metadata.annotations?.['helm.sh/hook'], undefined);
  });

  it('each service connects as its own NATS user with only its password mounted, and binds to provisioned consumers', () => {
    for (const profile of ['default', 'production'] as const) {
      const objs = objects(rendered.get(profile)!);
      // Production names the Secret (global.nats.auth.existingSecret); dev makes one of that name.
      const secret = 'kairos-nats-users';
      for (const service of SERVICE_CHARTS) {
        const config = named(objs, 'ConfigMap', `kairos-${service}`).data!;
        assert.equal(config.NATS_USER, service);
        assert.equal(config.NATS_PASSWORD_FILE, '/etc/kairos/nats/password');
        assert.equal(config.KAIROS_PROVISION, 'external');
        const workload = objs.find(
          (o) => ['Deployment', 'StatefulSet'].includes(o.kind) && o.metadata.name === `kairos-${service}`,
        )!;
        const volume = workload.spec!.template.spec.volumes.find((v: any) => v.name === 'nats-credentials');
        assert.deepEqual(volume.secret.items, [{ key: service, path: 'password' }], `${profile} ${service}`);
        assert.equal(volume.secret.secretName, secret);
        const env = JSON.stringify(workload.spec!.template.spec.containers[0].env ?? []);
        assert.ok(!/PASSWORD"|"value":"[^"]*@/.test(env), 'no password in an env value');
      }
      const job = objs.find((o) => o.kind === 'Job')!;
      const jobEnv = job.spec!.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
      assert.equal(jobEnv.find((e) => e.name === 'NATS_USER')?.value, 'provision');
      const jobVolume = job.spec!.template.spec.volumes.find((v: any) => v.name === 'nats-credentials');
      assert.deepEqual(jobVolume.secret.items, [{ key: 'provision', path: 'password' }]);
    }
    // The dev NATS loads the authorization its init container generates from the same users.
    const objs = objects(rendered.get('default')!);
    const pod = named(objs, 'StatefulSet', 'kairos-nats').spec!.template.spec;
    assert.ok(pod.containers[0].command.includes('--config=/config/authorization.conf'));
    assert.deepEqual(pod.initContainers[0].command.slice(0, 2), ['node', 'dist/src/nats-config.js']);
    const users = named(objs, 'Secret', 'kairos-nats-users').stringData!;
    assert.deepEqual(Object.keys(users).sort(), ['provision', ...SERVICE_CHARTS].sort());
  });

  it('a service names its own NATS password Secret, and TLS files come from a Secret', () => {
    const objs = objects(
      template('delivery', [
        '--set',
        'nats.existingSecret=delivery-nats',
        '--set',
        'nats.passwordKey=pw',
        '--set',
        'global.nats.tls.existingSecret=nats-ca',
        '--set',
        'global.nats.tls.clientCertificate=true',
      ]),
    );
    const config = named(objs, 'ConfigMap', 'kairos-delivery').data!;
    assert.equal(config.NATS_TLS_CA, '/etc/kairos/nats-tls/ca.crt');
    assert.equal(config.NATS_TLS_KEY, '/etc/kairos/nats-tls/tls.key');
    const volumes = named(objs, 'Deployment', 'kairos-delivery').spec!.template.spec.volumes;
    const credentials = volumes.find((v: any) => v.name === 'nats-credentials');
    assert.deepEqual(credentials.secret.secretName, 'delivery-nats');
    assert.deepEqual(credentials.secret.items, [{ key: 'pw', path: 'password' }]);
    assert.equal(volumes.find((v: any) => v.name === 'nats-tls').secret.secretName, 'nats-ca');
  });

  it('analytics runs as one pod, replaced rather than surged, and refuses more pods or autoscaling', () => {
    const deployment = named(objects(template('analytics', [])), 'Deployment', 'kairos-analytics');
    assert.equal(deployment.spec!.replicas, 1);
    assert.deepEqual(deployment.spec!.strategy, { type: 'Recreate' });
    assert.throws(() => template('analytics', ['--set', 'replicas=2']), /replicas.*maximum/);
    assert.throws(
      () => template('analytics', ['--set', 'autoscaling.enabled=true']),
      /runs as one pod .* autoscaling and keda must stay off/,
    );
  });

  it('KEDA scales delivery on its JetStream consumer lag, and is refused for a partition owner', () => {
    const objs = objects(
      template('delivery', [
        '--set',
        'keda.enabled=true',
        '--set',
        'keda.monitoringEndpoint=nats.nats:8222',
        '--set',
        'serviceMonitor.enabled=true',
      ]),
    );
    const scaled = named(objs, 'ScaledObject', 'kairos-delivery');
    assert.deepEqual(scaled.spec!.scaleTargetRef, { name: 'kairos-delivery' });
    assert.equal(scaled.spec!.triggers[0].type, 'nats-jetstream');
    assert.equal(scaled.spec!.triggers[0].metadata.stream, 'ACTIONS');
    assert.equal(scaled.spec!.triggers[0].metadata.consumer, 'delivery');
    assert.equal(named(objs, 'ServiceMonitor', 'kairos-delivery').spec!.endpoints[0].path, '/metrics');
    assert.throws(
      () => template('enrichment', ['--set', 'keda.enabled=true', '--set', 'keda.monitoringEndpoint=n:8222']),
      /keda\.enabled is for stateless services/,
    );
    assert.throws(
      () => template('ingest', ['--set', 'terminationGracePeriodSeconds=12']),
      /must exceed preStopSleepSeconds by at least 10/,
    );
  });

  it('refuses a cluster older than 1.30 (pod-index label, preStop sleep)', () => {
    const r = helm([
      'template',
      'kairos',
      join(ROOT, 'deploy/helm/kairos'),
      '--kube-version',
      'v1.29.4',
      ...PROFILES.default,
    ]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /requires kubeVersion: >=1\.30\.0-0/);
  });

  it('without dev.enabled or a NATS URL the umbrella refuses to render, saying what to set', () => {
    assert.throws(() => template('kairos'), /set global\.nats\.url .*or dev\.enabled=true/);
  });

  it("changing one service's image tag changes only that service's objects", () => {
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
    const before = new Map(objects(rendered.get('default')!).map((o) => [key(o), JSON.stringify(o)]));
    const after = objects(
      template('kairos', [...PROFILES.default, '--set', 'orchestration.image.tag=0.2.0']),
    );
    assert.deepEqual([...before.keys()].sort(), after.map(key).sort());
    // The dev credentials are random on each render (on a cluster, lookup keeps the first ones).
    const changed = after
      .filter((o) => before.get(key(o)) !== JSON.stringify(o))
      .map(key)
      .filter((k) => k !== 'Secret/kairos-dev-credentials');
    assert.deepEqual(changed, ['StatefulSet/kairos-orchestration']);
  });

  it('a service chart installed as its own release joins the umbrella named by global.meshRelease', () => {
    const objs = objects(
      template(
        'orchestration',
        ['--set', 'global.meshRelease=kairos', '--set', 'image.tag=0.2.0'],
        'kairos-orchestration',
      ),
    );
    const sts = named(objs, 'StatefulSet', 'kairos-orchestration');
    assert.equal(sts.spec!.template.spec.containers[0].image, 'kairos/orchestration:0.2.0');
    const config = named(objs, 'ConfigMap', 'kairos-orchestration').data!;
    assert.equal(config.NATS_URL, 'nats://kairos-nats:4222');
    assert.equal(config.MONGO_URL, 'mongodb://kairos-ferretdb:27017');
    assert.equal(config.KAIROS_PROFILE_ADDR, 'kairos-enrichment:50052');
  });

  it('the schema rejects a misspelt value, a wrong type and an unknown global, naming the field', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--set', 'ingest.replcas=3'], /replcas/],
      [['--set', 'ingest.replicas=three'], /replicas/],
      [['--set', 'global.nats.ulr=nats://x:4222'], /ulr/],
      [['--set', 'dev.enabeld=true'], /enabeld/],
    ];
    for (const [args, message] of cases) {
      assert.throws(() => template('kairos', [...PROFILES.default, ...args]), message, args.join(' '));
    }
    assert.throws(() => template('delivery', ['--set', 'resources.limits.memroy=1Gi']), /memroy/);
  });

  it('k8s/ holds exactly what scripts/render-k8s.sh renders from the charts', () => {
    const r = run('bash', ['scripts/render-k8s.sh', '--check']);
    assert.equal(r.status, 0, r.stderr);
  });

  it('each values.schema.json is what deploy/helm/charts.mjs generates', () => {
    const r = run('node', [
      '--input-type=module',
      '-e',
      `import { schemas } from '${join(ROOT, 'deploy/helm/charts.mjs')}';
       import { readFileSync } from 'node:fs';
       const stale = Object.entries(schemas()).filter(([chart, s]) =>
         JSON.stringify(JSON.parse(readFileSync('deploy/helm/' + chart + '/values.schema.json', 'utf8'))) !==
         JSON.stringify({ $schema: 'https://json-schema.org/draft-07/schema#', ...s }));
       if (stale.length) { console.error(stale.map(([c]) => c).join(' ')); process.exit(1); }`,
    ]);
    assert.equal(r.status, 0, `stale schemas (run node deploy/helm/charts.mjs): ${r.stderr}`);
  });

  it('docs/deploy-values.md is the reference generated from the schema', () => {
    assert.equal(
      readFileSync(VALUES_REFERENCE_PATH, 'utf8'),
      valuesReference(),
      'stale: run node tools/deploy/dist/src/values-reference.js',
    );
  });
});
