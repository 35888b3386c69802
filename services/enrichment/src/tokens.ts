import { token } from '@kairos/service-kit';
import type { ProfileBudget } from './domain/profile-budget';
import type { EnrichmentSettings } from './domain/settings';

/** DI tokens of the enrichment service (common ones live in service-kit's TOKENS). */
export const ENRICHMENT_TOKENS = {
  Settings: token<EnrichmentSettings>('kairos.enrichment.Settings'),
  /** Most profiles the cache holds. */
  CacheSize: token<number>('kairos.enrichment.CacheSize'),
  /** Most BSON bytes of profiles the cache holds. */
  CacheBytes: token<number>('kairos.enrichment.CacheBytes'),
  Partitions: token<number>('kairos.enrichment.Partitions'),
  OwnedPartitions: token<number[]>('kairos.enrichment.OwnedPartitions'),
  FlushIntervalMs: token<number>('kairos.enrichment.FlushIntervalMs'),
  Budget: token<ProfileBudget>('kairos.enrichment.Budget'),
} as const;
