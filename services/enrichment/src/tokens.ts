/** DI tokens of the enrichment service (common ones live in service-kit's TOKENS). */
export const ENRICHMENT_TOKENS = {
  Db: Symbol.for('kairos.enrichment.Db'),
  Settings: Symbol.for('kairos.enrichment.Settings'),
  CacheSize: Symbol.for('kairos.enrichment.CacheSize'),
  CacheBytes: Symbol.for('kairos.enrichment.CacheBytes'),
  Partitions: Symbol.for('kairos.enrichment.Partitions'),
  OwnedPartitions: Symbol.for('kairos.enrichment.OwnedPartitions'),
  FlushIntervalMs: Symbol.for('kairos.enrichment.FlushIntervalMs'),
  /** The profile size budget (ProfileBudget). */
  Budget: Symbol.for('kairos.enrichment.Budget'),
} as const;
