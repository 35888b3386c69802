/**
 * Return on investment of a trigger or workflow over a period:
 * cost = Σ message costs (the outcome's cost, else the configured cost of its channel)
 *      + infrastructure share, where the configured infrastructure cost of the period is split
 *        across groups in proportion to their messages;
 * net = attributed value − cost; roi = net / cost (null when cost is 0).
 */
export interface RoiInput {
  key: string;
  attributedValue: number;
  messageCost: number;
  messages: number;
}

export interface RoiRow extends RoiInput {
  infraCost: number;
  totalCost: number;
  net: number;
  roi: number | null;
}

/** Cost of one sent message: its own cost when the outcome carries one, else the channel's configured cost. */
export function messageCost(
  outcomeCost: number,
  channel: string,
  channelCosts: Readonly<Record<string, number>>,
): number {
  return outcomeCost > 0 ? outcomeCost : (channelCosts[channel] ?? 0);
}

/**
 * Rows with the infrastructure cost `infraCostPerDay × days` allocated by message share over all
 * `totalMessages` of the period (the rows may be a filtered subset of them).
 */
export function roiRows(
  inputs: readonly RoiInput[],
  infraCostPerDay: number,
  periodMs: number,
  totalMessages: number,
): RoiRow[] {
  const infraTotal = infraCostPerDay * (periodMs / 86_400_000);
  return inputs.map((r) => {
    const infraCost = totalMessages > 0 ? (infraTotal * r.messages) / totalMessages : 0;
    const totalCost = r.messageCost + infraCost;
    const net = r.attributedValue - totalCost;
    return { ...r, infraCost, totalCost, net, roi: totalCost > 0 ? net / totalCost : null };
  });
}
