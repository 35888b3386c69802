import * as assert from 'node:assert/strict';
import { arbitrate, type ArbitrationCandidate } from '../../src/domain/arbitration';

const c = (workflow: string, priority: number, firedAt = 0, transactional = false): ArbitrationCandidate => ({
  runId: `run-${workflow}`,
  workflow,
  priority,
  firedAt,
  transactional,
});

describe('arbitration', () => {
  it('lets the highest priority win and suppresses the others with lost_arbitration_to:<winner>', () => {
    const r = arbitrate([c('browse', 40), c('cart', 60), c('winback', 20)]);
    assert.equal(r.winner?.workflow, 'cart');
    assert.deepEqual(
      r.proceed.map((x) => x.workflow),
      ['cart'],
    );
    assert.deepEqual(
      r.suppressed.map((s) => [s.candidate.workflow, s.reason]),
      [
        ['browse', 'lost_arbitration_to:cart'],
        ['winback', 'lost_arbitration_to:cart'],
      ],
    );
  });

  it('breaks priority ties by the earlier firing, then by workflow name', () => {
    assert.equal(arbitrate([c('b', 50, 2_000), c('a', 50, 1_000)]).winner?.workflow, 'a');
    assert.equal(arbitrate([c('late', 50, 1_000), c('early', 50, 2_000)]).winner?.workflow, 'late');
    assert.equal(arbitrate([c('zeta', 50, 1_000), c('alpha', 50, 1_000)]).winner?.workflow, 'alpha');
  });

  it('is independent of the order candidates joined the window', () => {
    const list = [c('x', 10, 5), c('y', 90, 9), c('z', 90, 3)];
    const winners = [list, [...list].reverse(), [list[1], list[2], list[0]]].map(
      (l) => arbitrate(l).winner?.workflow,
    );
    assert.deepEqual(winners, ['z', 'z', 'z']);
  });

  it('never suppresses transactional runs, which can still win over marketing ones', () => {
    const r = arbitrate([c('payment-rescue', 90, 0, true), c('cart', 60), c('receipt', 10, 0, true)]);
    assert.equal(r.winner?.workflow, 'payment-rescue');
    assert.deepEqual(r.proceed.map((x) => x.workflow).sort(), ['payment-rescue', 'receipt']);
    assert.deepEqual(
      r.suppressed.map((s) => s.reason),
      ['lost_arbitration_to:payment-rescue'],
    );
  });

  it('lets a lone candidate proceed and handles an empty window', () => {
    assert.deepEqual(arbitrate([c('only', 1)]).suppressed, []);
    assert.deepEqual(arbitrate([]), { proceed: [], suppressed: [] });
  });
});
