import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { chromium, type Browser } from 'playwright-core';
import { analytics } from '@kairos/contracts';
import { connectPublisher } from '@kairos/messaging';
import { engagementWorkflowsYaml, simulateEngagement } from '@kairos/loadgen';
import { TELEMETRY_PRELOAD } from '@kairos/telemetry';
import {
  adminHeaders,
  adminMetadata,
  freePort,
  startServiceProcess,
  testCredentials,
  uniqueDbName,
  useServers,
  type ServiceProcess,
} from '@kairos/testkit';
import { caughtUp, definitionsDir, PARTITIONS, publishAll } from './harness';

// Browser globals of the functions the page evaluates.
declare const document: { body: { dataset: Record<string, string | undefined> } };
declare const window: unknown;

const ROOT = path.resolve(__dirname, '../../../../..');
/** Screenshots go under the checkout's ignored `.kairos/` folder. */
const SCREENSHOT_DIR = path.join(ROOT, '.kairos', 'screenshots');

/** Debian's chromium (scripts/bootstrap.sh installs it), or KAIROS_CHROMIUM. */
function chromiumPath(): string {
  const candidates = [process.env.KAIROS_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
    Boolean,
  ) as string[];
  for (const c of candidates) if (existsSync(c)) return c;
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      'chromium not found: run scripts/bootstrap.sh (apt-get install chromium) or set KAIROS_CHROMIUM',
    );
  }
}

function call<Req, Res>(
  client: analytics.AnalyticsServiceClient,
  method: 'volume' | 'funnel',
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    (
      client[method] as unknown as (r: Req, m: Metadata, cb: (e: ServiceError | null, r: Res) => void) => void
    ).call(client, req, adminMetadata(), (err, res) => (err ? reject(err) : resolve(res))),
  );
}

describe('analytics process: gRPC API and the dashboard in a browser', function () {
  this.timeout(120_000);
  const { nats, mongo, bus } = useServers({ dbPrefix: 'analytics-dash', connect: connectPublisher });
  let svc: ServiceProcess;
  let client: analytics.AnalyticsServiceClient;
  let httpUrl: string;
  let browser: Browser | undefined;
  const startMs = Math.floor((Date.now() - 3 * 86_400_000) / 3_600_000) * 3_600_000;
  const sim = simulateEngagement({ seed: 5, startMs, days: 2, triggers: 3, firesPerTriggerPerDay: 120 });

  before(async function () {
    this.timeout(180_000);
    const grpcPort = await freePort();
    const httpPort = await freePort();
    httpUrl = `http://127.0.0.1:${httpPort}`;
    svc = await startServiceProcess({
      name: 'analytics',
      script: path.resolve(__dirname, '../../src/main.js'),
      requireTelemetry: TELEMETRY_PRELOAD,
      env: {
        NATS_URL: nats.url,
        MONGO_URL: mongo.url,
        MONGO_DB: uniqueDbName('analytics-proc'),
        KAIROS_GRPC_PORT: String(grpcPort),
        KAIROS_HTTP_PORT: String(httpPort),
        KAIROS_PARTITIONS: String(PARTITIONS),
        KAIROS_DEFINITIONS_DIR: definitionsDir(engagementWorkflowsYaml(sim)),
        KAIROS_DEFINITIONS_WATCH: 'false',
        KAIROS_INFRA_COST_PER_DAY: '1',
      },
      readiness: { grpcPort },
      readyTimeoutMs: 60_000,
    });
    client = new analytics.AnalyticsServiceClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
    // A short simulated run: two days of three triggers.
    await publishAll(bus.publisher, sim.messages);
    await caughtUp(bus.nc);
  });
  after(async () => {
    await browser?.close();
    client?.close();
    await svc?.stop();
  });

  it('answers every measure over gRPC and names the field of a bad query', async () => {
    const { report: funnel } = await call<analytics.FunnelRequest, analytics.FunnelResponse>(
      client,
      'funnel',
      {
        query: { groupBy: 'workflow', granularity: '', attributionModel: '', limit: 0 },
      },
    );
    assert.deepEqual(
      funnel!.rows.map((r) => r.key),
      ['wf-1', 'wf-2', 'wf-3'],
    );
    assert.equal(
      funnel!.rows.reduce((a, r) => a + r.sent, 0),
      sim.truth.sent,
    );
    await assert.rejects(
      call(client, 'volume', {
        query: { groupBy: 'colour', granularity: '', attributionModel: '', limit: 0 },
      }),
      (e: ServiceError) => e.code === status.INVALID_ARGUMENT && e.details.startsWith('query.group_by:'),
    );
    await assert.rejects(
      call(client, 'volume', {
        query: {
          groupBy: '',
          granularity: '',
          attributionModel: '',
          limit: 0,
          filters: { triggers: [''], workflows: [], channels: [], variants: [] },
        },
      }),
      (e: ServiceError) =>
        e.code === status.INVALID_ARGUMENT && e.details.startsWith('query.filters.triggers[0]:'),
    );
    const res = await fetch(`${httpUrl}/api/volume?granularity=week`, { headers: adminHeaders() });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { field: string }).field, 'query.granularity');
  });

  it('refuses the dashboard and its API without the admin credential, and a wrong token at login', async () => {
    const api = await fetch(`${httpUrl}/api/volume?period=24h`);
    assert.equal(api.status, 401);
    assert.match(((await api.json()) as { error: string }).error, /admin credential required/);
    const page = await fetch(`${httpUrl}/assets/dashboard.js`, { redirect: 'manual' });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/login');
    const wrong = await fetch(`${httpUrl}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=not-the-admin-token-123',
      redirect: 'manual',
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('set-cookie'), null);
    const forged = await fetch(`${httpUrl}/api/volume?period=24h`, {
      headers: { cookie: 'kairos_session=made-up-session-id' },
    });
    assert.equal(forged.status, 401);
  });

  it('draws the charts with the expected series, and a filter changes them', async () => {
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1600 } });
    const offline: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(httpUrl)) offline.push(r.url());
    });
    // The dashboard asks for the admin token first, then sets its session cookie.
    await page.goto(`${httpUrl}/`);
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.fill('input[name=token]', testCredentials().adminToken);
    await page.click('button[type=submit]');
    await page.waitForURL(`${httpUrl}/`);
    const [session] = (await page.context().cookies()).filter((c) => c.name === 'kairos_session');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    await page.waitForFunction(() => Number(document.body.dataset.renders ?? 0) >= 1);
    const labels = (id: string) =>
      page.evaluate((canvas) => {
        const chart = (
          window as unknown as {
            Chart: {
              getChart(id: string): { data: { datasets: Array<{ label: string; data: unknown[] }> } };
            };
          }
        ).Chart.getChart(canvas);
        return chart.data.datasets.map((d) => d.label);
      }, id);
    assert.deepEqual(await labels('volume'), ['trigger-1', 'trigger-2', 'trigger-3', 'anomalies']);
    assert.deepEqual(await labels('funnel'), ['wf-1', 'wf-2', 'wf-3']);
    assert.deepEqual(await labels('lift'), [
      '95% interval (percentage points)',
      'absolute lift (percentage points)',
    ]);
    assert.deepEqual(await labels('timing'), ['open rate', 'click rate', 'conversion rate']);
    assert.equal(await page.locator('#roi tbody tr').count(), 3);
    const sentInChart = await page.evaluate(() => {
      const chart = (
        window as unknown as {
          Chart: { getChart(id: string): { data: { datasets: Array<{ data: number[] }> } } };
        }
      ).Chart.getChart('funnel');
      return chart.data.datasets.reduce((a, d) => a + d.data[0], 0);
    });
    assert.equal(sentInChart, sim.truth.sent);

    const renders = Number(await page.evaluate(() => document.body.dataset.renders));
    await page.selectOption('select[name=trigger]', 'trigger-2');
    await page.waitForFunction((n) => Number(document.body.dataset.renders) > n, renders);
    assert.deepEqual(await labels('volume'), ['trigger-2', 'anomalies']);
    assert.deepEqual(await labels('funnel'), ['wf-2']);
    assert.equal(await page.locator('#roi tbody tr').count(), 1);
    assert.deepEqual(offline, [], 'the page loads nothing from outside the service');
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.selectOption('select[name=trigger]', '');
    await page.waitForFunction((n) => Number(document.body.dataset.renders) > n + 1, renders);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'analytics-dashboard.png'), fullPage: true });
  });
});
