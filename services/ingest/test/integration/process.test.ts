import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { ingest } from '@kairos/contracts';
import { grpcFailure } from '@kairos/testkit';
import { auth, storedEvents, track, useIngestProcess } from '../helpers/grpc';

const PKG = join(__dirname, '../../..');

describe('ingest process (dist/src/main.js with config.example.yaml)', function () {
  const ingestProcess = useIngestProcess({
    KAIROS_INGEST_CONFIG: join(PKG, 'config.example.yaml'),
    KAIROS_WEBHOOK_SECRET_SHOP: 'example-secret',
    OTEL_SDK_DISABLED: 'true',
  });

  it('serves authenticated Track calls durably and drains on SIGTERM with exit code 0', async () => {
    const { nats, proc, client } = ingestProcess;
    const id = `proc-${randomUUID()}`;
    const res = await track(
      client,
      { id, type: 'cart.item_added', customerId: 'c-1' },
      auth('dev-key-change-me'),
    );
    assert.equal(res.result?.outcome, ingest.EventOutcome.EVENT_OUTCOME_ACCEPTED);
    const [stored] = await storedEvents(nats.url, id);
    assert.equal(stored.event.source, 'web');

    assert.equal(
      (await grpcFailure(track(client, { type: 'a.b', customerId: 'c' }))).code,
      status.UNAUTHENTICATED,
    );
    const denied = await grpcFailure(
      track(client, { type: 'payment.failed', customerId: 'c' }, auth('dev-key-change-me')),
    );
    assert.equal(denied.code, status.PERMISSION_DENIED);

    assert.equal(await proc.stop('SIGTERM'), 0);
    await proc.waitForLog('drained');
  });
});
