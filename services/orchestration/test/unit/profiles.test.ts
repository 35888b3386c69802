import * as assert from 'node:assert/strict';
import { profiles } from '@kairos/contracts';
import { toSentRecords } from '../../src/profiles';

describe('history as sends for frequency caps', () => {
  it('counts sent, unknown (it may have reached the customer) and later statuses, not failed or suppressed', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const comm = (actionId: string, status: string) =>
      profiles.Communication.fromPartial({ actionId, workflow: 'w', status, at });
    const sends = toSentRecords(
      ['sent', 'unknown', 'delivered', 'opened', 'clicked', 'failed', 'suppressed', 'held_out'].map((s) =>
        comm(s, s),
      ),
    );
    assert.deepEqual(
      sends.map((s) => s.actionId),
      ['sent', 'unknown', 'delivered', 'opened', 'clicked'],
    );
  });
});
