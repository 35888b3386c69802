import assert from 'node:assert/strict';
import { attribute, type Touch } from '../../src/domain/attribution';
import type { ConversionFact, WorkflowInfo } from '../../src/domain/facts';

const H = 3_600_000;
const workflows = new Map<string, WorkflowInfo>([
  [
    'cart',
    {
      name: 'cart',
      triggers: ['cart-abandoned'],
      conversion: { event: 'order.completed', withinMs: 72 * H },
      holdoutPercent: 10,
      cost: {},
    },
  ],
  [
    'browse',
    {
      name: 'browse',
      triggers: ['intent'],
      conversion: { event: 'order.completed', withinMs: 7 * 24 * H },
      holdoutPercent: 10,
      cost: {},
    },
  ],
  [
    'news',
    {
      name: 'news',
      triggers: ['signup'],
      conversion: { event: 'newsletter.read', withinMs: 24 * H },
      holdoutPercent: 0,
      cost: {},
    },
  ],
]);
const touch = (actionId: string, workflow: string, sentAt: number): Touch => ({
  actionId,
  runId: `run-${actionId}`,
  triggerId: `tf-${actionId}`,
  workflow,
  trigger: workflows.get(workflow)!.triggers[0],
  customerId: 'c1',
  channel: 'email',
  sentAt,
});
const conversion = (at: number): ConversionFact => ({
  id: 'order-1',
  customerId: 'c1',
  type: 'order.completed',
  at,
  values: { cart: 120, browse: 100 },
});

describe('attribution in overlapping windows', () => {
  // browse at 0h (7d window), cart at 10h (72h window), news at 20h (other event), cart at 90h.
  const touches = [
    touch('a', 'browse', 0),
    touch('b', 'cart', 10 * H),
    touch('n', 'news', 20 * H),
    touch('late', 'cart', 90 * H),
  ];

  it('last touch credits the latest message whose window covers the conversion', () => {
    const credits = attribute(conversion(50 * H), touches, workflows, 'last');
    assert.deepEqual(
      credits.map((c) => [c.actionId, c.weight, c.value, c.triggerId]),
      [['b', 1, 120, 'tf-b']],
    );
  });

  it('skips a later message whose window does not cover it and an earlier one that expired', () => {
    // At 95h: 'late' (sent 90h) is eligible; 'b' (10h + 72h = 82h) expired; browse (7d) still covers.
    assert.deepEqual(
      attribute(conversion(95 * H), touches, workflows, 'last').map((c) => c.actionId),
      ['late'],
    );
    // At 85h: 'b' expired at 82h, 'late' is after it: only browse remains.
    assert.deepEqual(
      attribute(conversion(85 * H), touches, workflows, 'last').map((c) => c.actionId),
      ['a'],
    );
  });

  it('first touch credits the earliest eligible message', () => {
    assert.deepEqual(
      attribute(conversion(50 * H), touches, workflows, 'first').map((c) => [c.actionId, c.value]),
      [['a', 100]],
    );
  });

  it('linear splits the credit equally, each share valued under its own workflow', () => {
    const credits = attribute(conversion(50 * H), touches, workflows, 'linear');
    assert.deepEqual(
      credits.map((c) => [c.actionId, c.weight, c.value]),
      [
        ['a', 0.5, 50],
        ['b', 0.5, 60],
      ],
    );
  });

  it('credits nothing to messages of workflows counting another event, or after the conversion', () => {
    assert.deepEqual(
      attribute(conversion(5 * H), [touch('n', 'news', 0), touch('b', 'cart', 6 * H)], workflows),
      [],
    );
  });

  it('orders equal send times by action id, so the choice is deterministic', () => {
    const same = [touch('y', 'cart', H), touch('x', 'cart', H)];
    assert.equal(attribute(conversion(2 * H), same, workflows, 'last')[0].actionId, 'y');
    assert.equal(attribute(conversion(2 * H), same, workflows, 'first')[0].actionId, 'x');
  });
});
