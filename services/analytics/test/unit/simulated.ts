import type { simulateEngagement, EngagementMessage } from '@kairos/loadgen';
import type { WorkflowInfo } from '../../src/domain/facts';
import type { AnalyticsState } from '../../src/domain/state';
import { fireFact, outcomeFact, requestFact } from '../../src/facts-from-messages';

/**
 * Folds one simulated message into `state` as the service would: a conversion is valued by its
 * revenue under every simulated workflow.
 */
export function foldSimulated(
  state: AnalyticsState,
  sim: ReturnType<typeof simulateEngagement>,
  m: EngagementMessage,
): void {
  if (m.kind === 'fire') state.addFire(fireFact(m.message));
  else if (m.kind === 'request') state.addRequest(requestFact(m.message));
  else if (m.kind === 'outcome') state.addOutcome(outcomeFact(m.message));
  else {
    const ev = m.message.event!;
    const value = Number((ev.properties as { revenue: number }).revenue);
    state.addConversion({
      id: ev.id,
      customerId: ev.customerId,
      type: ev.type,
      at: ev.occurredAt!.getTime(),
      values: Object.fromEntries(sim.workflows.map((w) => [w.name, value])),
    });
  }
}

/** The simulated workflows, converting on `order.completed` within 72 hours. */
export const simulatedWorkflows = (sim: ReturnType<typeof simulateEngagement>): WorkflowInfo[] =>
  sim.workflows.map((w) => ({
    name: w.name,
    triggers: [w.trigger],
    conversion: { event: 'order.completed', withinMs: 72 * 3_600_000 },
    holdoutPercent: 10,
    cost: {},
  }));
