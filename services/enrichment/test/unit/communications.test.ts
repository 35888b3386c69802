import assert from 'node:assert/strict';
import { actions, OUTCOME_TOKEN } from '@kairos/contracts';
import { STATUSES } from '../../src/communications';
import { addRecentCommunication, type CommunicationDoc } from '../../src/domain/profile-model';

describe('communication history statuses', () => {
  it('records every outcome status the mesh publishes, including unknown', () => {
    const published = Object.values(actions.OutcomeStatus).filter(
      (v): v is actions.OutcomeStatus =>
        typeof v === 'number' &&
        v !== actions.OutcomeStatus.OUTCOME_STATUS_UNSPECIFIED &&
        v !== actions.OutcomeStatus.UNRECOGNIZED,
    );
    assert.ok(published.includes(actions.OutcomeStatus.OUTCOME_STATUS_UNKNOWN));
    assert.deepEqual(
      published.map((s) => OUTCOME_TOKEN[s]).filter((t) => !STATUSES.has(t)),
      [],
      'outcome statuses the history would drop',
    );
  });

  it('ranks unknown as a send: it replaces a failed channel and is upgraded by delivered', () => {
    const comm = (status: string): CommunicationDoc => ({
      action_id: 'a1',
      workflow: 'w',
      trigger: 't',
      channel: 'email',
      status,
      at: new Date(Date.UTC(2026, 0, 1)),
      template: '',
      transactional: false,
    });
    const failed = addRecentCommunication([], comm('failed'), 5)!.list;
    const unknown = addRecentCommunication(failed, comm('unknown'), 5)!.list;
    assert.equal(unknown[0].status, 'unknown');
    assert.equal(addRecentCommunication(unknown, comm('failed'), 5), undefined, 'failed does not undo it');
    assert.equal(addRecentCommunication(unknown, comm('delivered'), 5)!.list[0].status, 'delivered');
  });
});
