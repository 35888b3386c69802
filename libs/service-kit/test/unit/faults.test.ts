import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as nodePath from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { faultPointSetting, killAt, noFaults } from '../../src/faults';

const POINTS = ['off', 'before-write', 'after-write'] as const;

describe('test-only fault injection', () => {
  it('reads KAIROS_FAULT_POINT as one of the service points, off by default', () => {
    const shape = { KAIROS_FAULT_POINT: faultPointSetting(POINTS) };
    assert.equal(loadConfig(shape, {}).KAIROS_FAULT_POINT, 'off');
    assert.equal(loadConfig(shape, { KAIROS_FAULT_POINT: 'after-write' }).KAIROS_FAULT_POINT, 'after-write');
    assert.throws(
      () => loadConfig(shape, { KAIROS_FAULT_POINT: 'after-wrte' }),
      (err: Error) =>
        err instanceof ConfigError &&
        /KAIROS_FAULT_POINT/.test(err.message) &&
        /after-write/.test(err.message),
    );
  });

  it('arms nothing when the point is off', () => {
    assert.equal(killAt<(typeof POINTS)[number]>('off', { warn: () => assert.fail('logged') }), noFaults);
  });

  it('passes the points that are not armed', () => {
    const hook = killAt<(typeof POINTS)[number]>('after-write', { warn: () => assert.fail('logged') });
    hook('before-write');
  });

  it('logs the armed point and SIGKILLs the process there', () => {
    const faults = nodePath.resolve(__dirname, '../../src/faults.js');
    const script = `
      const { killAt } = require(${JSON.stringify(faults)});
      const hook = killAt('after-write', { warn: (f, m) => console.log(JSON.stringify({ ...f, m })) });
      hook('before-write');
      console.log('passed before-write');
      hook('after-write');
      console.log('still alive');`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(child.signal, 'SIGKILL');
    assert.deepEqual(child.stdout.trim().split('\n'), [
      'passed before-write',
      JSON.stringify({ point: 'after-write', m: 'fault injection: SIGKILL' }),
    ]);
  });
});
