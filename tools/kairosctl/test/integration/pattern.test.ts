import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { triggers } from '@kairos/contracts';
import { connectPublisher } from '@kairos/messaging';
import {
  PATTERN_SERVICE_NAME,
  loadPatternDetectionConfig,
  startPatternDetection,
  type PatternDetectionApp,
} from '@kairos/pattern-detection';
import { createLogger, type GrpcServer } from '@kairos/service-kit';
import { paymentFailuresTrigger, useNats, useNatsClient } from '@kairos/testkit';
import { cli, EXAMPLES, serveGrpc } from '../support';

const DRAFT = paymentFailuresTrigger('two-failures', 2);

describe('kairosctl simulate and explain against a running PatternService', function () {
  let app: PatternDetectionApp;
  let server: GrpcServer;
  let addr = '';
  after(async function () {
    this.timeout(20_000);
    await server?.shutdown(1_000);
    await app?.stop();
  });
  const nats = useNats();
  const bus = useNatsClient(() => connectPublisher(nats.url, 'kairosctl-test'));
  const dir = mkdtempSync(join(tmpdir(), 'kairosctl-sim-'));

  before(async function () {
    const logger = createLogger('kairosctl-test', 'silent');
    const config = loadPatternDetectionConfig({
      KAIROS_PARTITIONS: '4',
      KAIROS_DEFINITIONS_DIR: join(EXAMPLES, 'triggers.yaml'),
    });
    app = await startPatternDetection(config, { nc: bus.nc, logger });
    ({ server, addr } = await serveGrpc(
      triggers.PatternServiceService,
      app.service.handlers(),
      PATTERN_SERVICE_NAME,
    ));
  });

  it('prints who would fire, when and why for a draft trigger over an NDJSON file', async function () {
    const draft = join(dir, 'draft.yaml');
    writeFileSync(draft, DRAFT);
    const file = join(dir, 'events.ndjson');
    const line = (id: string, customer: string, at: string) =>
      JSON.stringify({ id, type: 'payment.failed', customer_id: customer, occurred_at: at });
    writeFileSync(
      file,
      [
        line('e1', 'c1', '2026-01-01T00:00:00Z'),
        line('e2', 'c2', '2026-01-01T00:00:01Z'),
        line('e3', 'c1', '2026-01-01T00:01:00Z'),
        '',
      ].join('\n'),
    );
    const r = await cli(['simulate', '-f', draft, '--events', file], { KAIROS_PATTERN_ADDR: addr });
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(r.out[0], '2026-01-01T00:01:00.000Z  c1  two-failures');
    assert.match(r.out[1], /two-failures.*c1/);
    assert.equal(r.out[r.out.length - 1], '1 fired over 3 events from 2 customers');
  });

  it('exits 1 with the validation errors of an invalid draft', async function () {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, DRAFT.replace('atLeast: 2', 'atLeast: two'));
    const r = await cli(['simulate', '-f', bad, '--since', '1h'], { KAIROS_PATTERN_ADDR: addr });
    assert.equal(r.code, 1);
    assert.match(r.err.join('\n'), /INVALID_ARGUMENT.*spec\.pattern\.count\.atLeast/);
  });

  it('explains a trigger for a customer, and exits 1 for an unknown trigger', async function () {
    const r = await cli(['explain', 'cart-abandoned', 'nobody'], { KAIROS_PATTERN_ADDR: addr });
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.match(r.out[0], /cart-abandoned.*nobody.*has not fired/);
    const unknown = await cli(['explain', 'no-such', 'nobody'], { KAIROS_PATTERN_ADDR: addr });
    assert.equal(unknown.code, 1);
    assert.match(unknown.err[0], /NOT_FOUND/);
  });
});
