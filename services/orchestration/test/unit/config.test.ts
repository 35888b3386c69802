import * as assert from 'node:assert/strict';
import { loadOrchestrationConfig } from '../../src/config';

describe('orchestration config: the test-only fault point', () => {
  it('is off unless set', () => {
    assert.equal(loadOrchestrationConfig({}).KAIROS_FAULT_POINT, 'off');
  });

  it('accepts a known point', () => {
    const config = loadOrchestrationConfig({ KAIROS_FAULT_POINT: 'after-arbitration' });
    assert.equal(config.KAIROS_FAULT_POINT, 'after-arbitration');
  });

  it('rejects an unknown point, naming the variable and the known points', () => {
    assert.throws(
      () => loadOrchestrationConfig({ KAIROS_FAULT_POINT: 'after-arbitraton' }),
      /KAIROS_FAULT_POINT: .*after-arbitration/,
    );
  });
});

describe('orchestration config: retention', () => {
  it('keeps ended runs 90d by default and refuses less than the TRIGGERS stream keeps', () => {
    assert.equal(loadOrchestrationConfig({}).KAIROS_RUN_RETENTION, 90 * 86_400_000);
    assert.throws(
      () => loadOrchestrationConfig({ KAIROS_RUN_RETENTION: '1d' }),
      /KAIROS_RUN_RETENTION: 0s or at least the TRIGGERS stream's max age \(30d\)/,
    );
    assert.equal(loadOrchestrationConfig({ KAIROS_RUN_RETENTION: '0s' }).KAIROS_RUN_RETENTION, 0);
  });
});
