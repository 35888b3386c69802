import { tokens } from '@kairos/service-kit';
import type { ProfileBudget } from './domain/profile-budget';
import type { EnrichmentSettings } from './domain/settings';

/** DI tokens of the enrichment service (common ones live in service-kit's TOKENS). */
export const ENRICHMENT_TOKENS = tokens<{
  Settings: EnrichmentSettings;
  /** Most profiles the cache holds. */
  CacheSize: number;
  /** Most BSON bytes of profiles the cache holds. */
  CacheBytes: number;
  Partitions: number;
  OwnedPartitions: number[];
  FlushIntervalMs: number;
  Budget: ProfileBudget;
}>('kairos.enrichment');
