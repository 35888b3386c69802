import { Rng } from './prng';

export type SimCategory = 'customer_action' | 'system';

/** One simulated event. `occurredAt` is simulated epoch milliseconds. */
export interface SimEvent {
  id: string;
  type: string;
  category: SimCategory;
  customerId: string;
  occurredAt: number;
  properties: Record<string, unknown>;
  /** Session the event belongs to (sent as `context.session_id`). */
  sessionId?: string;
  /** Scripted scenario the event belongs to, if any. */
  scenario?: string;
}

/** The NDJSON line `kairosctl simulate` reads. */
export interface NdjsonRecord {
  id: string;
  type: string;
  category: SimCategory;
  customerId: string;
  occurredAt: string;
  properties: Record<string, unknown>;
}

export function toNdjsonRecord(e: SimEvent): NdjsonRecord {
  return {
    id: e.id,
    type: e.type,
    category: e.category,
    customerId: e.customerId,
    occurredAt: new Date(e.occurredAt).toISOString(),
    properties: e.properties,
  };
}

export function toNdjsonLine(e: SimEvent): string {
  return JSON.stringify(toNdjsonRecord(e));
}

export interface Product {
  sku: string;
  price: number;
  category: string;
}

/** A fixed catalog (independent of the population seed, so SKUs mean the same thing in every run). */
export const CATALOG: readonly Product[] = (() => {
  const rng = Rng.derive('kairos-loadgen-catalog');
  const categories = ['shoes', 'jackets', 'bags', 'electronics', 'books', 'home', 'beauty', 'toys'];
  const out: Product[] = [];
  for (let i = 0; i < 60; i++) {
    const price = Math.round(rng.logNormal(45, 0.9) * 100) / 100;
    out.push({
      sku: `SKU-${1001 + i}`,
      price: Math.max(4.99, Math.min(price, 1999)),
      category: categories[i % 8],
    });
  }
  return out;
})();

export const PAGES = ['/', '/new', '/sale', '/search', '/account', '/help', '/blog', '/category'];
export const PAYMENT_FAILURE_REASONS = [
  'card_declined',
  'insufficient_funds',
  'expired_card',
  'processing_error',
];
export const TICKET_SUBJECTS = ['where is my order', 'refund request', 'cannot log in', 'damaged item'];
