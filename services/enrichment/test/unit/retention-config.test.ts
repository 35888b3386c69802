import assert from 'node:assert/strict';
import { loadEnrichmentConfig, retentionRules } from '../../src/config';

const DAY = 86_400_000;

describe('enrichment config: retention', () => {
  it('keeps profiles until erased, history 365d and past occurrences 400d by default', () => {
    const rules = retentionRules(loadEnrichmentConfig({}));
    assert.deepEqual(
      rules.map((r) => [r.collection, r.field, r.maxAgeMs]),
      [
        ['profiles', 'updated_at', 0],
        ['communications', 'at', 365 * DAY],
        ['time_occurrences', 'fire_at', 400 * DAY],
      ],
    );
    assert.deepEqual(rules[2].filter, { status: { $ne: 'pending' } }, 'pending occurrences never expire');
  });

  it('refuses an occurrence retention shorter than a year and a bit', () => {
    assert.throws(
      () => loadEnrichmentConfig({ KAIROS_TIME_OCCURRENCES_RETENTION: '30d' }),
      /KAIROS_TIME_OCCURRENCES_RETENTION: 0s or at least 370d/,
    );
  });
});
