import assert from 'node:assert/strict';
import { cli } from '../support';

describe('kairosctl profile erase', function () {
  it('refuses a bad --wait or output with exit 2 and a line saying what to fix, before calling anything', async function () {
    const wait = await cli(['profile', 'erase', 'c1', '--wait', 'soon']);
    assert.equal(wait.code, 2);
    assert.match(wait.err.join('\n'), /--wait expects a duration like 30s or 5m, got 'soon'/);
    const output = await cli(['profile', 'erase', 'c1', '-o', 'yaml']);
    assert.equal(output.code, 2);
    assert.match(output.err.join('\n'), /unknown output 'yaml' \(expected table or json\)/);
  });

  it('exits 3 naming the address when ProfileService cannot be reached', async function () {
    const r = await cli(['profile', 'erase', 'c1'], { KAIROS_PROFILE_ADDR: '127.0.0.1:1' });
    assert.equal(r.code, 3);
    assert.match(r.err.join('\n'), /127\.0\.0\.1:1/);
  });
});
