import assert from 'node:assert/strict';
import { createContainer, provide, resolveToken, token, tokens, TOKENS } from '../../src';

describe('tokens', () => {
  it('gives each declared name the token of prefix and name', () => {
    const t = tokens<{ Store: { rows: number }; Size: number }>('kairos.test');
    assert.equal(t.Store, token('kairos.test.Store'));
    assert.equal(t.Size, Symbol.for('kairos.test.Size'));
    assert.notEqual(t.Store, t.Size);
  });

  it('gives the same token on every read, so registration and injection meet', () => {
    const t = tokens<{ Size: number }>('kairos.test');
    const c = createContainer([provide(t.Size, 42)]);
    assert.equal(resolveToken(c, tokens<{ Size: number }>('kairos.test').Size), 42);
  });

  it('keeps the common tokens under the kairos prefix', () => {
    assert.equal(TOKENS.Config, Symbol.for('kairos.Config'));
    assert.equal(TOKENS.Publisher, Symbol.for('kairos.Publisher'));
  });
});
