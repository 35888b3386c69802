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
