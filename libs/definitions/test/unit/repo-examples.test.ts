import assert from 'node:assert/strict';
import { join } from 'node:path';
import { formatErrors, loadDefinitionsFromPath } from '../../src';

describe('the sample definitions the local runner applies (examples/)', () => {
  it('all validate and compile', async () => {
    const dir = join(__dirname, '..', '..', '..', '..', '..', 'examples');
    const result = await loadDefinitionsFromPath(dir);
    assert.equal(formatErrors(result.errors), '');
    const names = result.documents.map((d) => `${d.kind}/${d.name}`);
    for (const expected of ['Trigger/cart-abandoned', 'Workflow/cart-recovery', 'Workflow/vip-thank-you']) {
      assert.ok(names.includes(expected), `${expected} missing from ${names.join(', ')}`);
    }
  });
});
