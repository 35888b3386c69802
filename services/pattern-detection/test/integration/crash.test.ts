import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connectPublisher, type NatsConnection, type Publisher } from '@kairos/messaging';
import { freePort, startServiceProcess, useNats, waitFor, type ServiceProcess } from '@kairos/testkit';
import { CHECKPOINT_BUCKET } from '../../src/checkpoints';
import { firedFor, publishEnriched, readFired, TRIGGERS_YAML } from './helpers';

const ROOT = join(__dirname, '..', '..', '..', '..', '..');
const SCRIPT = join(ROOT, 'services', 'pattern-detection', 'dist', 'src', 'main.js');

describe('pattern-detection process killed with SIGKILL between checkpoints', function () {
  let nc: NatsConnection;
  let publisher: Publisher;
  let proc: ServiceProcess | undefined;
  let dir: string;
  after(async function () {
    this.timeout(20_000);
    await proc?.kill();
    await nc?.drain();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const nats = useNats();

  async function start(grpcPort: number): Promise<ServiceProcess> {
    return startServiceProcess({
      name: 'pattern-detection',
      script: SCRIPT,
      readiness: { grpcPort },
      env: {
        NATS_URL: nats.url,
        KAIROS_PARTITIONS: '1',
        KAIROS_GRPC_PORT: String(grpcPort),
        KAIROS_HTTP_PORT: '0',
        KAIROS_DEFINITIONS_DIR: dir,
        KAIROS_ALLOWED_LATENESS: '1s',
        KAIROS_WATERMARK_INTERVAL: '100ms',
        // Only the event-count rule checkpoints in this test: one checkpoint after 6 events.
        KAIROS_CHECKPOINT_INTERVAL: '1h',
        KAIROS_CHECKPOINT_EVENTS: '6',
        LOG_LEVEL: 'info',
      },
    });
  }

  it('neither loses nor duplicates a trigger across kill -9 and replay from the checkpoint', async function () {
    this.timeout(90_000);
    dir = mkdtempSync(join(tmpdir(), 'pd-defs-'));
    writeFileSync(join(dir, 'triggers.yaml'), TRIGGERS_YAML);
    ({ nc, publisher } = await connectPublisher(nats.url, 'crash-test'));
    const port = await freePort();
    proc = await start(port);

    let n = 0;
    const send = (customer: string, type: string, props: Record<string, unknown> = {}) =>
      publishEnriched(publisher, 1, { id: `k-${++n}`, type, customer, at: Date.now(), props });

    // Batch 1 (6 events → checkpoint): partial matches for A and B, a complete count for D.
    await send('A', 'payment.failed');
    await send('A', 'payment.failed');
    await send('B', 'product.viewed', { sku: 'X' });
    await send('D', 'payment.failed');
    await send('D', 'payment.failed');
    const checkpointSeq = await send('D', 'payment.failed');
    const kv = await new Kvm(nc).open(CHECKPOINT_BUCKET);
    await waitFor(
      async () => {
        const e = await kv.get('p00');
        return e && e.operation === 'PUT' && e.json<{ sequence: number }>().sequence === checkpointSeq;
      },
      { timeoutMs: 15_000, message: `a checkpoint at sequence ${checkpointSeq}` },
    );

    // Batch 2 (3 events, no checkpoint): completes A and B across the checkpoint, and E.
    await send('A', 'payment.failed');
    await send('B', 'catalog.price_changed', { sku: 'X', old_price: 10, new_price: 7 });
    await send('E', 'payment.failed');
    await send('E', 'payment.failed');
    await send('E', 'payment.failed');
    await waitFor(async () => (await readFired(nc)).length >= 4, { timeoutMs: 15_000, message: '4 firings' });
    await proc.kill();

    // Restart: restore the checkpoint, replay batch 2 (re-fires A, B, E with the same ids), go on.
    proc = await start(port);
    await proc.waitForLog(new RegExp(`"sequence":${checkpointSeq},.*engine restored from checkpoint`));
    await send('F', 'payment.failed');
    await send('F', 'payment.failed');
    await send('F', 'payment.failed');
    await waitFor(async () => firedFor(await readFired(nc), 'payment-failures', 'F').length === 1, {
      timeoutMs: 15_000,
      message: 'F to fire after the restart',
    });

    // The replay re-published A, B and E (and D when its events were still buffered at the
    // checkpoint); JetStream dropped them as duplicates of the same ids.
    const deduplicated = () =>
      new Set(
        proc!
          .logs()
          .filter((l) => l.includes('de-duplicated'))
          .map((l) => /"customer":"(\w+)"/.exec(l)?.[1]),
      );
    await waitFor(() => ['A', 'B', 'E'].every((c) => deduplicated().has(c)), {
      message: 'the re-fires of A, B and E to be de-duplicated',
    });
    const fired = await readFired(nc);
    const byCustomer = fired.map((f) => `${f.trigger}/${f.customerId}`).sort();
    assert.deepEqual(byCustomer, [
      'payment-failures/A',
      'payment-failures/D',
      'payment-failures/E',
      'payment-failures/F',
      'price-drop-on-viewed-item/B',
    ]);
    assert.equal(new Set(fired.map((f) => f.id)).size, fired.length);
  });

  it('drains on SIGTERM: exits 0 after a final checkpoint at the last folded sequence', async function () {
    this.timeout(30_000);
    assert.ok(proc?.running, 'the restarted process from the previous test is running');
    const last = await publishEnriched(publisher, 1, {
      id: 'k-drain',
      type: 'page.viewed',
      customer: 'G',
      at: Date.now(),
    });
    const kv = await new Kvm(nc).open(CHECKPOINT_BUCKET);
    const jsm = await jetstreamManager(nc);
    await waitFor(
      async () => (await jsm.consumers.info('EVENTS', 'pattern-detection-p00')).ack_floor.stream_seq >= last,
      { message: `the service to ack sequence ${last}` },
    );
    assert.equal(await proc!.stop('SIGTERM'), 0);
    const manifest = (await kv.get('p00'))!.json<{ sequence: number }>();
    assert.equal(manifest.sequence, last, 'the final checkpoint covers the last folded event');
  });
});
