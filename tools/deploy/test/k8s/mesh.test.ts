import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { KairosClient } from '@kairos/client';
import { actions, HEADERS, SCHEMAS, STREAMS } from '@kairos/contracts';
import { runCli } from '@kairos/kairosctl';
import { connectNats, natsAuthOptions, scanStream, silentLogger, type NatsConnection } from '@kairos/messaging';
import {
  assertTraceEdges,
  delay,
  emailOnCartDefinitions,
  newEmailableCustomer,
  startOtlpReceiver,
  startSmtpSink,
  waitFor,
  type CollectedSpan,
  type OtlpReceiver,
  type SmtpSink,
} from '@kairos/testkit';
import { ROOT, SERVICE_CHARTS } from '../../src/helm';
import { Cluster, sh, Timings, type PodInfo } from './cluster';

const NAMESPACE = 'kairos';
const RELEASE = 'kairos';
const CHART = 'deploy/helm/kairos';
/** The images' tag (the charts' appVersion). */
const TAG = (JSON.parse(readFileSync(join(ROOT, 'services/ingest/package.json'), 'utf8')) as { version: string })
  .version;
/** The service whose chart the roll-out test upgrades, and the tag it moves to (same image, new name). */
const ROLLED = 'ingest';
const ROLL_TAG = `${TAG}-roll`;

const DEFINITIONS = emailOnCartDefinitions('k8s');

/** Every Nats-Msg-Id stored under `filter` in the EVENTS stream (headers only). */
async function storedIds(nc: NatsConnection, filter: string): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for await (const m of scanStream(nc, { stream: STREAMS.EVENTS.name, filter, headersOnly: true })) {
    ids.set(m.headers?.get(HEADERS.msgId) ?? '', m.headers?.get('traceparent') ?? '');
  }
  return ids;
}

/** The pods not of `app`, each as name, uid and restart count: equal lists mean none was touched. */
function othersThan(app: string, pods: PodInfo[]): string[] {
  return pods
    .filter((p) => p.app !== app)
    .map((p) => `${p.name} ${p.uid} restarts=${p.restarts}`)
    .sort();
}

function kairosctl(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const io = {
    out: (l: string) => lines.push(l),
    err: (l: string) => lines.push(`ERR ${l}`),
    env,
    now: () => Date.now(),
  };
  return runCli(args, io).then((code) => ({ code, out: lines.join('\n') }));
}

describe('k8s: the mesh on a real single-node cluster (helm install, email, rolling upgrade, uninstall)', function () {
  this.timeout(15 * 60_000);
  const timings = new Timings();
  let cluster: Cluster;
  let smtp: SmtpSink;
  let otlp: OtlpReceiver;
  let nc: NatsConnection | undefined;
  let ctlEnv: NodeJS.ProcessEnv;
  let installed: PodInfo[];

  before(async function () {
    this.timeout(40 * 60_000); // the first run builds the images
    cluster = await timings.phase('cluster up (kube-up.sh)', () => Cluster.up(NAMESPACE));
    await timings.phase('images: build', () => sh('bash', ['scripts/build-images.sh']));
    await timings.phase('images: load into containerd', () => sh('bash', ['scripts/kube-load-images.sh']));
    await sh('bash', ['scripts/helm-deps.sh']);
    // A release left by an interrupted run (the cluster's state survives kube-down).
    await cluster.helm(['uninstall', RELEASE, '--wait', '--ignore-not-found']);
    // The SMTP peer and the trace collector run on the host, on the node address the pods reach.
    const nodeIp = await cluster.nodeIp();
    smtp = await startSmtpSink(undefined, nodeIp);
    otlp = await startOtlpReceiver({ host: nodeIp });
  });

  after(async function () {
    this.timeout(5 * 60_000);
    await nc?.close();
    await smtp?.close();
    await otlp?.stop();
    if (process.env.KAIROS_K8S_KEEP) console.log(`cluster kept (KAIROS_K8S_KEEP): KUBECONFIG=${cluster?.kubeconfig}`);
    else await timings.phase('cluster down (kube-down.sh)', () => Cluster.down());
    console.log(timings.render());
  });

  it('installs the umbrella chart with dev NATS and FerretDB, and every pod becomes Ready', async () => {
    await timings.phase('helm install --wait', () =>
      cluster.helm([
        'install',
        RELEASE,
        CHART,
        '--create-namespace',
        '--wait',
        '--timeout',
        '5m',
        '--set',
        'dev.enabled=true',
        '--set',
        'global.imageRegistry=localhost',
        '--set',
        `delivery.env.KAIROS_SMTP_URL=${smtp.url}`,
        '--set',
        `global.otlp.endpoint=${otlp.url}`,
      ]),
    );
    installed = await cluster.pods();
    const apps = new Set(installed.map((p) => p.app));
    for (const app of ['nats', 'ferretdb', ...SERVICE_CHARTS]) {
      assert.ok(apps.has(app), `a pod of ${app} (pods: ${installed.map((p) => p.name).join(', ')})`);
    }
    const notReady = installed.filter((p) => !p.ready).map((p) => `${p.name} (${p.phase})`);
    assert.deepEqual(notReady, [], 'every pod is Ready');
    const status = JSON.parse(await cluster.helm(['status', RELEASE, '-o', 'json'])) as { info: { status: string } };
    assert.equal(status.info.status, 'deployed');
    // With dev.enabled the provisioning Job runs next to the services (KAIROS_PROVISION=external):
    // they became Ready on the consumers it created, with their own NATS users.
    const succeeded = await cluster.kubectl(['get', 'job', `${RELEASE}-provision-1`, '-o', 'jsonpath={.status.succeeded}']);
    assert.equal(succeeded, '1', 'the provisioning Job succeeded');
  });

  it('services reach each other through Service names (cluster DNS and kube-proxy)', async () => {
    await timings.phase('service-name checks', async () => {
      // From inside a pod: each name the services are configured with resolves and accepts a TCP
      // connection through its ClusterIP.
      const targets = [`${RELEASE}-nats:4222`, `${RELEASE}-ferretdb:27017`, `${RELEASE}-enrichment:50052`];
      const script = `
        const net = require('node:net'), dns = require('node:dns').promises;
        Promise.all(process.argv.slice(1).map(async (t) => {
          const [host, port] = t.split(':');
          const { address } = await dns.lookup(host);
          await new Promise((ok, fail) => { const s = net.connect(+port, host, () => { s.end(); ok(); }); s.on('error', fail); s.setTimeout(3000, () => fail(new Error('timeout ' + t))); });
          return t + '=' + address;
        })).then((r) => console.log(r.join(' ')), (e) => { console.error(e.message); process.exit(1); });`;
      const out = await cluster.kubectl(['exec', `${RELEASE}-orchestration-0`, '--', 'node', '-e', script, ...targets]);
      for (const t of targets) assert.match(out, new RegExp(`${t}=10\\.96\\.`), `${t} resolves to its ClusterIP: ${out}`);
      const config = await cluster.kubectl(['get', 'configmap', `${RELEASE}-orchestration`, '-o', 'jsonpath={.data}']);
      assert.match(config, new RegExp(`${RELEASE}-enrichment:50052`), 'orchestration finds enrichment by its Service name');
    });
  });

  it('the API server accepts every object k8s/ holds (default, minimal, production values) in a strict dry run', async () => {
    const { url, certDir } = await cluster.apiServer();
    const files = ['dev', 'minimal', 'production'].map((p) => `k8s/${p}/kairos.yaml`);
    // A namespace of its own: the release's objects already exist in the release's namespace.
    const namespace = 'kairos-dry-run';
    await cluster.kubectl(['create', 'namespace', namespace]).catch((err: Error) => {
      if (!/AlreadyExists/.test(err.message)) throw err;
    });
    try {
      await timings.phase('API server dry run (3 profiles)', () =>
        sh('node', ['tools/deploy/dist/src/dry-run.js', url, certDir, namespace, ...files]),
      );
    } finally {
      await cluster.kubectl(['delete', 'namespace', namespace, '--wait=false']);
    }
  });

  it('an event sent from outside with kairosctl ends as one email at the SMTP peer, in one trace', async () => {
    const [ingestIp, natsIp, enrichmentIp] = await Promise.all(
      ['ingest', 'nats', 'enrichment'].map((s) => cluster.clusterIp(`${RELEASE}-${s}`)),
    );
    // kairosctl and the test connect as the admin user, its password from the dev users' Secret.
    const password = Buffer.from(
      await cluster.kubectl(['get', 'secret', `${RELEASE}-nats-users`, '-o', 'jsonpath={.data.provision}']),
      'base64',
    ).toString('utf8');
    const passwordFile = join(mkdtempSync(join(tmpdir(), 'kairos-k8s-nats-')), 'provision');
    writeFileSync(passwordFile, password, { mode: 0o600 });
    ctlEnv = {
      NATS_URL: `nats://${natsIp}:4222`,
      NATS_USER: 'provision',
      NATS_PASSWORD_FILE: passwordFile,
      KAIROS_INGEST_ADDR: `${ingestIp}:50051`,
    };
    nc = await connectNats({
      servers: ctlEnv.NATS_URL!,
      name: 'k8s-test',
      logger: silentLogger,
      ...natsAuthOptions({ NATS_URL: ctlEnv.NATS_URL!, NATS_USER: 'provision', NATS_PASSWORD_FILE: passwordFile }),
    });
    await timings.phase('email: definitions applied and loaded', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kairos-k8s-defs-'));
      writeFileSync(join(dir, 'k8s.yaml'), DEFINITIONS.yaml);
      const applied = await kairosctl(['apply', '-f', dir], ctlEnv);
      assert.equal(applied.code, 0, applied.out);
      // Every pod of the two consumers of definitions logged them (they watch the KV bucket).
      for (const [app, word] of [
        ['pattern-detection', DEFINITIONS.trigger],
        ['orchestration', DEFINITIONS.workflow],
      ]) {
        const pods = installed.filter((p) => p.app === app);
        await waitFor(
          async () => {
            const logs = await Promise.all(pods.map((p) => cluster.kubectl(['logs', p.name, '--tail=-1'])));
            return logs.every((l) => l.includes(word));
          },
          { timeoutMs: 60_000, intervalMs: 500, message: `${app} pods to load ${word}` },
        );
      }
    });

    // The release's admin token: dev.enabled made it into the dev credentials Secret.
    const encoded = await cluster.kubectl([
      'get',
      'secret',
      `${RELEASE}-dev-credentials`,
      '-o',
      'jsonpath={.data.admin-token}',
    ]);
    const admin = new Metadata();
    admin.set('authorization', `Bearer ${Buffer.from(encoded.trim(), 'base64').toString('utf8')}`);
    const { customerId, email } = await newEmailableCustomer(`${enrichmentIp}:50052`, 'k8s-buyer', admin);

    const mail = await timings.phase('email: kairosctl send → SMTP peer', async () => {
      for (const [i, type] of ['product.viewed', 'cart.item_added'].entries()) {
        const sent = await kairosctl(
          ['send', '--type', type, '--customer', customerId, '--id', `${customerId}-${i}`, '--prop', 'sku=SKU-42'],
          ctlEnv,
        );
        assert.equal(sent.code, 0, sent.out);
        assert.match(sent.out, /accepted/);
      }
      return waitFor(() => smtp.messages.find((m) => m.to.includes(email)), {
        timeoutMs: 120_000,
        message: `an email to ${email} at the SMTP peer on the host`,
      });
    });
    const traceId = mail.headers['x-kairos-trace-id'];
    assert.match(traceId ?? '', /^[0-9a-f]{32}$/, 'the email names its trace');
    // The event that completed the pattern was stored by ingest in that same trace...
    const raw = await storedIds(nc, 'events.raw.>');
    assert.equal(raw.get(`${customerId}-1`)?.split('-')[1], traceId, 'cart.item_added was stored in the trace');
    // ...and the delivery outcome names it too.
    // Delivery publishes SENT after the SMTP peer answered, so the outcome may trail the email.
    const sentOutcomes = async () => {
      const sent: actions.ActionOutcome[] = [];
      for await (const m of scanStream(nc!, { stream: STREAMS.ACTIONS.name, filter: 'actions.outcome.>' })) {
        const o = SCHEMAS.ActionOutcome.type.decode(m.data);
        if (o.customerId === customerId && o.status === actions.OutcomeStatus.OUTCOME_STATUS_SENT) sent.push(o);
      }
      return sent;
    };
    const sent = await waitFor(async () => {
      const list = await sentOutcomes();
      return list.length > 0 ? list : undefined;
    }, { timeoutMs: 30_000, message: 'the SENT outcome of the email' });
    assert.equal(sent.length, 1, 'exactly one SENT outcome');
    assert.equal(sent[0].metadata.trace_id, traceId);
    assert.equal(smtp.messages.filter((m) => m.to.includes(email)).length, 1, 'exactly one email');

    // Every service's spans are in that trace, each continuing the one before it.
    const is = (service: string, kind: string, name?: RegExp) => (span: CollectedSpan) =>
      span.serviceName === service && span.kind === kind && (!name || name.test(span.name));
    const edges: Array<[ReturnType<typeof is>, ReturnType<typeof is>]> = [
      [is('ingest', 'SERVER'), is('ingest', 'PRODUCER', /^events\.raw\./)],
      [is('ingest', 'PRODUCER'), is('enrichment', 'CONSUMER', /^events\.raw\./)],
      [is('enrichment', 'CONSUMER'), is('pattern-detection', 'CONSUMER', /^events\.enriched\./)],
      [is('pattern-detection', 'CONSUMER'), is('orchestration', 'CONSUMER', /^triggers\.fired\./)],
      [is('orchestration', 'CONSUMER'), is('delivery', 'CONSUMER', /^actions\.requested\./)],
    ];
    // Each pod exports its spans in batches of its own: wait until the last one's arrived.
    await waitFor(
      () => {
        assertTraceEdges(otlp.spans, traceId, edges, { indirect: true });
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 500, message: `every service's spans in trace ${traceId}` },
    ).catch(() => assertTraceEdges(otlp.spans, traceId, edges, { indirect: true }));
  });

  it(`helm upgrade of ${ROLLED}'s tag rolls only its pods, and no event sent during the roll is lost`, async () => {
    await sh('podman', ['tag', `localhost/kairos/${ROLLED}:${TAG}`, `localhost/kairos/${ROLLED}:${ROLL_TAG}`]);
    await sh('bash', ['scripts/kube-load-images.sh', '--tag', ROLL_TAG, ROLLED]);
    const podsBefore = await cluster.pods();

    // A steady stream through ingest's Service while its pods are replaced: the client SDK, which
    // retries a failed call with the same event ids.
    const client = new KairosClient({ address: ctlEnv.KAIROS_INGEST_ADDR!, batchSize: 10, maxRetries: 8 });
    const run = `roll-${Date.now()}`;
    const results: Promise<unknown>[] = [];
    const ids: string[] = [];
    let streaming = true;
    const stream = (async () => {
      for (let n = 0; streaming; n++) {
        const id = `${run}-${n}`;
        ids.push(id);
        results.push(client.track({ id, type: 'page.viewed', customerId: `${run}-c${n % 20}`, properties: { n } }));
        await delay(20); // about 50 events a second
      }
    })();
    try {
      await timings.phase(`helm upgrade ${ROLLED} (rolling, under load)`, () =>
        cluster.helm(['upgrade', RELEASE, CHART, '--reuse-values', '--wait', '--timeout', '5m', '--set', `${ROLLED}.image.tag=${ROLL_TAG}`]),
      );
      const sentDuringRoll = ids.length;
      await delay(1_000); // a second more of traffic on the new pods
      streaming = false;
      await stream;
      const settled = await Promise.allSettled(results);
      const failed = settled.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      assert.deepEqual(
        failed.map((r) => String(r.reason)).slice(0, 5),
        [],
        `every event of the stream was accepted (${failed.length} of ${ids.length} failed)`,
      );
      assert.ok(sentDuringRoll > 50, `a stream ran during the roll (${sentDuringRoll} events)`);
    } finally {
      streaming = false;
      await stream;
      await client.close();
    }

    const podsAfter = await cluster.pods();
    const rolled = podsAfter.filter((p) => p.app === ROLLED);
    assert.ok(rolled.length > 0 && rolled.every((p) => p.ready && p.images.every((i) => i.endsWith(`:${ROLL_TAG}`))));
    const oldUids = new Set(podsBefore.filter((p) => p.app === ROLLED).map((p) => p.uid));
    assert.ok(rolled.every((p) => !oldUids.has(p.uid)), `every ${ROLLED} pod was replaced`);
    assert.deepEqual(othersThan(ROLLED, podsAfter), othersThan(ROLLED, podsBefore), 'no other pod was replaced or restarted');

    // Nothing lost: every event is stored once by ingest and enriched once downstream.
    await timings.phase('roll: every event stored and enriched', () =>
      waitFor(
        async () => {
          const [raw, enriched] = await Promise.all([storedIds(nc!, 'events.raw.>'), storedIds(nc!, 'events.enriched.>')]);
          const missing = ids.filter((id) => !raw.has(id) || !enriched.has(`enriched:${id}`));
          return missing.length === 0 ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 1_000, message: `all ${ids.length} events of the roll stored and enriched` },
      ),
    );
    console.log(`      roll: ${ids.length} events sent, every one stored and enriched`);
  });

  it('helm rollback returns ingest to its first image and leaves the other pods alone', async () => {
    const podsBefore = await cluster.pods();
    await timings.phase('helm rollback to revision 1', () => cluster.helm(['rollback', RELEASE, '1', '--wait', '--timeout', '5m']));
    const podsAfter = await cluster.pods();
    const rolled = podsAfter.filter((p) => p.app === ROLLED);
    assert.ok(rolled.length > 0, `${ROLLED} pods after the rollback`);
    for (const p of rolled) {
      assert.ok(p.ready, `${p.name} is Ready`);
      assert.deepEqual(p.images, [`localhost/kairos/${ROLLED}:${TAG}`], `${p.name} runs the first image again`);
    }
    assert.deepEqual(othersThan(ROLLED, podsAfter), othersThan(ROLLED, podsBefore), 'no other pod was replaced');
  });

  it('helm uninstall removes the release and its pods', async () => {
    await timings.phase('helm uninstall --wait, pods gone', async () => {
      await cluster.helm(['uninstall', RELEASE, '--wait']);
      await waitFor(async () => ((await cluster.pods({ terminating: true })).length === 0 ? true : undefined), {
      timeoutMs: 120_000,
      intervalMs: 500,
      message: 'every pod of the release to go',
    });
    });
    const left = await cluster.kubectl(['get', 'all,configmaps,networkpolicies', '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name']);
    assert.equal(left.trim(), '', 'nothing of the release is left');
  });
});
