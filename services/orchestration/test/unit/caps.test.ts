import * as assert from 'node:assert/strict';
import { checkCaps, mergeSends, parseGlobalCap, type CapCheck, type SentRecord } from '../../src/domain/caps';

const H = 3_600_000;
const NOW = 1_700_000_000_000;
const sent = (actionId: string, workflow: string, hoursAgo: number, transactional = false): SentRecord => ({
  actionId,
  workflow,
  at: NOW - hoursAgo * H,
  transactional,
});
/** checkCaps for a marketing send `new` at NOW with an empty ledger, but for what `c` sets. */
const check = (c: Partial<CapCheck> & Pick<CapCheck, 'workflow'>) =>
  checkCaps({ nowMs: NOW, actionId: 'new', transactional: false, ledger: [], ...c });

describe('frequency caps', () => {
  it('parses global caps like 5/24h and rejects malformed ones', () => {
    assert.deepEqual(parseGlobalCap('5/24h'), { max: 5, perMs: 24 * H });
    assert.deepEqual(parseGlobalCap('2/30m'), { max: 2, perMs: 30 * 60_000 });
    assert.equal(parseGlobalCap('5 per day'), undefined);
    assert.equal(parseGlobalCap('5/0h'), undefined);
  });

  it('blocks at the global cap counting every marketing send in the window', () => {
    const history = [sent('a', 'w1', 1), sent('b', 'w2', 2), sent('c', 'w3', 23)];
    const d = check({ workflow: 'w4', global: { max: 3, perMs: 24 * H }, history });
    assert.deepEqual(d, { allowed: false, scope: 'global', count: 3, max: 3 });
  });

  it('ignores sends outside the window and transactional sends', () => {
    const history = [sent('a', 'w1', 25), sent('b', 'w1', 1, true), sent('c', 'w1', 2)];
    const d = check({ workflow: 'w1', global: { max: 2, perMs: 24 * H }, history });
    assert.deepEqual(d, { allowed: true });
  });

  it('applies the workflow cap to that workflow only', () => {
    const history = [sent('a', 'cart', 1), sent('b', 'browse', 1), sent('c', 'browse', 2)];
    const perWorkflow = { max: 1, perMs: 24 * H };
    assert.equal(check({ workflow: 'cart', perWorkflow, history }).allowed, false);
    assert.equal(check({ workflow: 'vip', perWorkflow, history }).allowed, true);
  });

  it('exempts transactional workflows', () => {
    const history = [sent('a', 'w', 1), sent('b', 'w', 1)];
    assert.deepEqual(
      check({ workflow: 'w', transactional: true, global: { max: 1, perMs: H * 24 }, history }),
      {
        allowed: true,
      },
    );
  });

  it('counts the local ledger when history is unknown, and a send once when it is in both', () => {
    const ledger = [sent('a', 'w', 1)];
    const cap = { max: 2, perMs: 24 * H };
    assert.equal(check({ workflow: 'w', global: { max: 1, perMs: 24 * H }, ledger }).allowed, false);
    assert.equal(mergeSends([sent('a', 'w', 1)], ledger).length, 1);
    assert.equal(check({ workflow: 'w', global: cap, history: [sent('a', 'w', 1)], ledger }).allowed, true);
  });

  it('never counts the send being retried against itself', () => {
    const ledger = [sent('same', 'w', 0)];
    assert.equal(
      check({ workflow: 'w', actionId: 'same', global: { max: 1, perMs: H }, ledger }).allowed,
      true,
    );
  });
});
