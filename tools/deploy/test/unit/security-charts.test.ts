import assert from 'node:assert/strict';
import {
  ensureChartTools,
  objects,
  PROFILES,
  SERVICE_CHARTS,
  template,
  type K8sObject,
} from '../../src/helm';

/** The services' Deployments and StatefulSets (not the dev NATS and FerretDB). */
const workloads = (objs: K8sObject[]) =>
  objs.filter(
    (o) =>
      (o.kind === 'Deployment' || o.kind === 'StatefulSet') &&
      (SERVICE_CHARTS as readonly string[]).some((s) => o.metadata.name === `kairos-${s}`),
  );
const podSpec = (o: K8sObject) => o.spec!.template.spec;
const configOf = (objs: K8sObject[], name: string) =>
  objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name)!.data!;

describe('deploy: Helm charts carry the admin and service credentials and TLS', function () {
  this.timeout(60_000);
  before(function () {
    this.timeout(20 * 60_000);
    ensureChartTools();
  });

  it('production refuses to render without the admin and service token Secrets, saying what to set', () => {
    const base = [
      ...['--set', 'global.nats.url=nats://n:4222', '--set', 'global.mongo.url=mongodb://m:27017'],
      ...['--set', 'global.nats.auth.existingSecret=nats-users'],
    ];
    assert.throws(() => template('kairos', base), /set global\.security\.adminToken\.existingSecret/);
    assert.throws(
      () => template('kairos', [...base, '--set', 'global.security.adminToken.existingSecret=a']),
      /set global\.security\.serviceToken\.existingSecret/,
    );
  });

  it('mounts the token Secrets as files in every service and names them in its settings', () => {
    const objs = objects(template('kairos', PROFILES.production));
    assert.equal(workloads(objs).length, SERVICE_CHARTS.length);
    for (const w of workloads(objs)) {
      const volumes = podSpec(w).volumes as Array<{ name: string; secret?: { secretName: string } }>;
      const secretOf = (name: string) => volumes.find((v) => v.name === name)?.secret?.secretName;
      assert.equal(secretOf('admin-token'), 'kairos-admin-token', w.metadata.name);
      assert.equal(secretOf('service-token'), 'kairos-service-token', w.metadata.name);
      assert.equal(secretOf('tls'), `${w.metadata.name}-tls`, w.metadata.name);
      const config = configOf(objs, w.metadata.name);
      assert.equal(config.KAIROS_ADMIN_TOKEN_FILE, '/etc/kairos/credentials/admin/token');
      assert.equal(config.KAIROS_SERVICE_TOKEN_FILE, '/etc/kairos/credentials/service/token');
      assert.equal(config.KAIROS_TLS_CA_FILE, '/etc/kairos/tls/ca.crt');
      const env = JSON.stringify(podSpec(w).containers[0].env ?? []);
      assert.ok(!/TOKEN/.test(env), 'tokens are files, never environment variables');
    }
  });

  it('with TLS the probes speak HTTPS (readiness on /readyz), and TCP when HTTP needs client certificates', () => {
    const tls = objects(template('kairos', PROFILES.production));
    const container = podSpec(workloads(tls)[0]).containers[0];
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'http', scheme: 'HTTPS' });
    assert.equal(container.livenessProbe.httpGet.scheme, 'HTTPS');
    const mtls = objects(
      template('kairos', [...PROFILES.production, '--set', 'global.security.tls.httpClientAuth=true']),
    );
    const strict = podSpec(workloads(mtls)[0]).containers[0];
    assert.deepEqual(strict.livenessProbe.tcpSocket, { port: 'http' });
    assert.equal(strict.livenessProbe.httpGet, undefined);
    const plain = podSpec(workloads(objects(template('kairos', PROFILES.default)))[0]).containers[0];
    assert.ok(plain.readinessProbe.grpc, 'without TLS readiness is the gRPC health check');
  });

  it('dev.enabled makes random dev credentials that every service mounts', () => {
    const objs = objects(template('kairos', PROFILES.default));
    const secret = objs.find((o) => o.kind === 'Secret' && o.metadata.name === 'kairos-dev-credentials');
    assert.ok(secret, 'the dev credentials Secret');
    const tokens = Object.values(secret.data!).map((v) => Buffer.from(v, 'base64').toString());
    assert.equal(tokens.length, 2);
    for (const t of tokens) assert.match(t, /^[A-Za-z0-9]{43}$/);
    assert.equal(workloads(objs).length, SERVICE_CHARTS.length);
    for (const w of workloads(objs)) {
      const volumes = podSpec(w).volumes as Array<{ name: string; secret?: { secretName: string } }>;
      assert.equal(
        volumes.find((v) => v.name === 'admin-token')?.secret?.secretName,
        'kairos-dev-credentials',
      );
    }
  });

  it('passes mTLS identities to the services', () => {
    const objs = objects(
      template('kairos', [
        ...PROFILES.production,
        '--set',
        'global.security.tls.clientAuth=true',
        '--set',
        'global.security.serviceIdentities={orchestration}',
        '--set',
        'global.security.adminIdentities={ops,ci}',
      ]),
    );
    const config = configOf(objs, 'kairos-enrichment');
    assert.equal(config.KAIROS_TLS_CLIENT_AUTH, 'true');
    assert.equal(config.KAIROS_SERVICE_IDENTITIES, 'orchestration');
    assert.equal(config.KAIROS_ADMIN_IDENTITIES, 'ops,ci');
  });
});
