/**
 * Records what flows on NATS: each batch of messages becomes facts, the store keeps the new ones
 * (unique ids), and only those are folded into the aggregates. A batch is acked after this
 * resolves, so a crash before it redelivers the batch and the store's keys keep the count exact.
 */
import { events, type actions, type triggers } from '@kairos/contracts';
import { counter } from '@kairos/telemetry';
import type { CampaignSendFact, ConversionFact } from './domain/facts';
import type { AnalyticsState } from './domain/state';
import { eventTime, fireFact, outcomeFact, requestFact } from './facts-from-messages';
import type { FactStore } from './store';
import type { WorkflowCatalog } from './workflows';

const recorded = counter('kairos_analytics_facts_total', 'Facts recorded by analytics (new ones only)', [
  'kind',
]);
const replayed = counter(
  'kairos_analytics_replayed_total',
  'Messages analytics had already counted (replays, redeliveries)',
  ['kind'],
);

export class Recorder {
  constructor(
    private readonly store: FactStore,
    private readonly state: AnalyticsState,
    private readonly catalog: WorkflowCatalog,
    private readonly campaignEventType: string,
  ) {}

  async outcomes(list: actions.ActionOutcome[]): Promise<void> {
    const facts = list.map(outcomeFact);
    const fresh = await this.store.insertNew(this.store.outcomes, facts, (f) => f.id);
    for (const f of fresh) this.state.addOutcome(f);
    this.count('outcome', fresh.length, facts.length);
  }

  async requests(list: actions.ActionRequested[]): Promise<void> {
    const facts = list.map(requestFact);
    const fresh = await this.store.insertNew(this.store.requests, facts, (f) => f.actionId);
    for (const f of fresh) this.state.addRequest(f);
    this.count('request', fresh.length, facts.length);
  }

  async fires(list: triggers.TriggerFired[]): Promise<void> {
    const facts = list.map(fireFact);
    const fresh = await this.store.insertNew(this.store.fires, facts, (f) => f.id);
    for (const f of fresh) this.state.addFire(f);
    this.count('fire', fresh.length, facts.length);
  }

  /** Keeps the conversion events (some workflow's `conversion.event`) and batch campaign sends. */
  async events(list: events.EnrichedEvent[]): Promise<void> {
    const types = this.catalog.conversionTypes();
    const conversions: ConversionFact[] = [];
    const campaigns: CampaignSendFact[] = [];
    for (const e of list) {
      const ev = e.event;
      if (!ev) continue;
      if (types.has(ev.type)) {
        conversions.push({
          id: ev.id,
          customerId: ev.customerId,
          type: ev.type,
          at: eventTime(ev),
          values: this.catalog.conversionValues(e),
        });
      } else if (
        ev.type === this.campaignEventType &&
        ev.category === events.EventCategory.EVENT_CATEGORY_SYSTEM
      ) {
        const campaign = (ev.properties as Record<string, unknown> | undefined)?.campaign;
        campaigns.push({
          id: ev.id,
          customerId: ev.customerId,
          campaign: typeof campaign === 'string' ? campaign : '',
          at: eventTime(ev),
        });
      }
    }
    const freshConversions = await this.store.insertNew(this.store.conversions, conversions, (f) => f.id);
    for (const c of freshConversions) this.state.addConversion(c);
    const freshCampaigns = await this.store.insertNew(this.store.campaigns, campaigns, (f) => f.id);
    for (const c of freshCampaigns) this.state.addCampaignSend(c);
    this.count('conversion', freshConversions.length, conversions.length);
    this.count('campaign_send', freshCampaigns.length, campaigns.length);
  }

  private count(kind: string, fresh: number, all: number): void {
    if (fresh) recorded.inc({ kind }, fresh);
    if (all > fresh) replayed.inc({ kind }, all - fresh);
  }
}
