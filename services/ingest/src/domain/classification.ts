import { categoryFromToken, events } from '@kairos/contracts';
import type { CategoryName, RulesFile } from './rules-file';

export function categoryOf(name: CategoryName): events.EventCategory {
  return categoryFromToken(name)!;
}

/**
 * Gives an event without a category one by its type: the longest configured prefix wins, then the
 * default (customer_action). Rules are sorted once so classification is a short scan.
 */
export class Classifier {
  private readonly rules: Array<{ prefix: string; category: events.EventCategory }>;
  private readonly fallback: events.EventCategory;

  constructor(rules: Pick<RulesFile, 'categories' | 'defaultCategory'>) {
    this.rules = rules.categories
      .map((r) => ({ prefix: r.prefix, category: categoryOf(r.category) }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
    this.fallback = categoryOf(rules.defaultCategory);
  }

  classify(type: string): events.EventCategory {
    for (const rule of this.rules) if (type.startsWith(rule.prefix)) return rule.category;
    return this.fallback;
  }
}
