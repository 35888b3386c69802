import assert from 'node:assert/strict';
import type { Pattern, TriggerSpec } from '../../src/ast';
import { PatternEngine } from '../../src/engine/index';
import { validatePattern, validateTrigger } from '../../src/validate';

const absent: Pattern = { kind: 'absent', pattern: { kind: 'event', type: 'order.completed' }, forMs: 1000 };

describe('validatePattern', () => {
  it('accepts absent as a later step of a sequence, also nested', () => {
    assert.deepEqual(
      validatePattern({ kind: 'sequence', steps: [{ kind: 'event', type: 'a' }, absent] }),
      [],
    );
    assert.deepEqual(
      validatePattern({
        kind: 'all',
        of: [
          { kind: 'sequence', steps: [{ kind: 'event', type: 'a' }, absent] },
          { kind: 'event', type: 'b' },
        ],
      }),
      [],
    );
  });

  it('rejects absent standalone, first in a sequence, or directly inside all/any', () => {
    assert.equal(validatePattern(absent)[0].path, 'absent');
    assert.deepEqual(
      validatePattern({ kind: 'sequence', steps: [absent, { kind: 'event', type: 'a' }] }).map((i) => i.path),
      ['sequence[0]'],
    );
    assert.deepEqual(
      validatePattern({ kind: 'any', of: [{ kind: 'event', type: 'a' }, absent] }).map((i) => i.path),
      ['any[1]'],
    );
  });

  it('rejects bad durations, thresholds, empty groups and duplicate or reserved aliases', () => {
    const issues = validatePattern({
      kind: 'sequence',
      withinMs: 0,
      steps: [
        { kind: 'count', type: 'a', atLeast: 0, withinMs: -1 },
        { kind: 'all', of: [] },
        { kind: 'event', type: 'b', as: 'x' },
        { kind: 'event', type: 'c', as: 'x' },
        { kind: 'event', type: 'd', as: 'event' },
      ],
    });
    const messages = issues.map((i) => `${i.path}: ${i.message}`);
    assert.ok(messages.some((m) => m.startsWith('sequence: sequence.within')));
    assert.ok(messages.some((m) => m.startsWith('sequence[0]: count.atLeast')));
    assert.ok(messages.some((m) => m.startsWith('sequence[0]: count.within')));
    assert.ok(messages.some((m) => m.startsWith('sequence[1]: all needs')));
    assert.ok(messages.some((m) => m.startsWith("sequence[3]: alias 'x' is already bound at sequence[2]")));
    assert.ok(messages.some((m) => m.startsWith("sequence[4]: alias 'event' is reserved")));
  });
});

describe('validateTrigger', () => {
  it('checks priority range and cooldown, and the engine refuses invalid triggers', () => {
    const bad: TriggerSpec = { name: 't', version: 1, priority: 101, cooldownMs: -1, pattern: absent };
    assert.deepEqual(
      validateTrigger(bad).map((i) => i.path),
      ['priority', 'cooldown', 'pattern.absent'],
    );
    assert.throws(() => new PatternEngine([bad]), /invalid trigger 't'/);
  });
});
