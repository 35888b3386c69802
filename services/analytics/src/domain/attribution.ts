/**
 * Conversion attribution. A touch is a message sent to the customer; a conversion event can be
 * credited to the touches before it whose workflow counts that event type (`conversion.event`) and
 * whose window (`conversion.within`) still covers it. When windows of several messages overlap:
 * - `last` (default): all credit to the latest eligible touch;
 * - `first`: all credit to the earliest eligible touch;
 * - `linear`: equal shares to every eligible touch.
 * Equal send times are ordered by action id, so the choice is deterministic. The value credited is
 * the conversion's value under the credited touch's workflow.
 */
import type { ActionRef, ConversionFact, WorkflowInfo } from './facts';

export const ATTRIBUTION_MODELS = ['last', 'first', 'linear'] as const;
export type AttributionModel = (typeof ATTRIBUTION_MODELS)[number];

export interface Touch extends ActionRef {
  triggerId: string;
  channel: string;
  sentAt: number;
}

export interface Credit {
  conversionId: string;
  actionId: string;
  runId: string;
  triggerId: string;
  workflow: string;
  trigger: string;
  channel: string;
  /** Share of the conversion (1 for last/first touch). */
  weight: number;
  /** weight × the conversion's value under the touch's workflow. */
  value: number;
  convertedAt: number;
  sentAt: number;
}

/** Touches that may earn this conversion, oldest first. */
export function eligibleTouches(
  conversion: ConversionFact,
  touches: readonly Touch[],
  workflows: ReadonlyMap<string, WorkflowInfo>,
): Touch[] {
  const out: Touch[] = [];
  for (const t of touches) {
    const c = workflows.get(t.workflow)?.conversion;
    if (!c || c.event !== conversion.type) continue;
    if (t.sentAt > conversion.at || conversion.at - t.sentAt > c.withinMs) continue;
    out.push(t);
  }
  return out.sort(
    (a, b) => a.sentAt - b.sentAt || (a.actionId < b.actionId ? -1 : a.actionId > b.actionId ? 1 : 0),
  );
}

/** The credits of one conversion under a model (none when no touch is eligible). */
export function attribute(
  conversion: ConversionFact,
  touches: readonly Touch[],
  workflows: ReadonlyMap<string, WorkflowInfo>,
  model: AttributionModel = 'last',
): Credit[] {
  const eligible = eligibleTouches(conversion, touches, workflows);
  if (eligible.length === 0) return [];
  const chosen =
    model === 'last' ? [eligible[eligible.length - 1]] : model === 'first' ? [eligible[0]] : eligible;
  const weight = 1 / chosen.length;
  return chosen.map((t) => ({
    conversionId: conversion.id,
    actionId: t.actionId,
    runId: t.runId,
    triggerId: t.triggerId,
    workflow: t.workflow,
    trigger: t.trigger,
    channel: t.channel,
    weight,
    value: weight * (conversion.values[t.workflow] ?? 0),
    convertedAt: conversion.at,
    sentAt: t.sentAt,
  }));
}
