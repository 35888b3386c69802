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
import { fold, type FactKind, type FactKinds, type FactStore } from './store';
import type { WorkflowCatalog } from './workflows';

const recorded = counter('kairos_analytics_facts_total', 'Facts recorded by analytics (new ones only)', [
  'kind',
]);
const replayed = counter(
  'kairos_analytics_replayed_total',
  'Messages analytics had already counted (replays, redeliveries)',
  ['kind'],
);

/** A consumed message, with its bytes as delivered when the consumer has them. */
export interface Delivered<T> {
  message: T;
  data?: Uint8Array;
}

export class Recorder {
  constructor(
    private readonly store: FactStore,
    private readonly state: AnalyticsState,
    private readonly catalog: WorkflowCatalog,
    private readonly campaignEventType: string,
  ) {}

  outcomes(list: Array<Delivered<actions.ActionOutcome>>): Promise<void> {
    return this.recordDelivered('outcome', list, outcomeFact, (f) => `${f.actionId}\u0000${f.status}`);
  }

  requests(list: Array<Delivered<actions.ActionRequested>>): Promise<void> {
    return this.recordDelivered('request', list, requestFact, (f) => f.actionId);
  }

  fires(list: Array<Delivered<triggers.TriggerFired>>): Promise<void> {
    return this.recordDelivered('fire', list, fireFact, (f) => f.id);
  }

  /** Records the facts of messages that map one to one onto facts, keeping their bytes. */
  private recordDelivered<K extends FactKind, T>(
    kind: K,
    list: Array<Delivered<T>>,
    factOf: (message: T) => FactKinds[K],
    key: (f: FactKinds[K]) => string,
  ): Promise<void> {
    return this.record(
      kind,
      list.map((d) => factOf(d.message)),
      key,
      list,
    );
  }

  /** Keeps the conversion events (some workflow's `conversion.event`) and batch campaign sends. */
  async events(list: Array<Delivered<events.EnrichedEvent>>): Promise<void> {
    const types = this.catalog.conversionTypes();
    const conversions: ConversionFact[] = [];
    const campaigns: CampaignSendFact[] = [];
    for (const { message: e } of list) {
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
    await this.record('conversion', conversions, (f) => f.id);
    await this.record('campaign', campaigns, (f) => f.id);
  }

  /**
   * Keeps the facts the aggregates do not know (once each, within the batch too), writes them as one
   * segment (the bytes of their messages when `delivered` has them all), then folds them in. A
   * failed write throws before anything is folded, so the redelivered batch decides again.
   */
  private async record<K extends FactKind>(
    kind: K,
    facts: FactKinds[K][],
    key: (f: FactKinds[K]) => string,
    delivered?: ReadonlyArray<Delivered<unknown>>,
  ): Promise<void> {
    const knows = this.state.knows[kind] as (f: FactKinds[K]) => boolean;
    const seen = new Set<string>();
    const fresh: FactKinds[K][] = [];
    const bytes: Array<Uint8Array | undefined> = [];
    facts.forEach((f, i) => {
      // Known facts are the bulk of a replay: they are ruled out before building a key.
      if (knows(f)) return;
      const k = key(f);
      if (seen.has(k)) return;
      seen.add(k);
      fresh.push(f);
      bytes.push(delivered?.[i]?.data);
    });
    await this.store.append(kind, fresh, delivered ? bytes : undefined);
    for (const f of fresh) fold(this.state, kind, f);
    if (fresh.length) recorded.inc({ kind }, fresh.length);
    if (facts.length > fresh.length) replayed.inc({ kind }, facts.length - fresh.length);
  }
}
