import assert from 'node:assert/strict';
import {
  addTracking,
  clickUrl,
  createTrackingToken,
  openPixelUrl,
  signBody,
  verifySignature,
  verifyTrackingToken,
} from '../../src/domain/signing';

const NOW = 1_700_000_000;
const links = {
  baseUrl: 'http://t.example/',
  secret: 's3cret',
  actionId: 'a1',
  channel: 'email',
  expiresAt: NOW + 60,
};

describe('webhook signatures', () => {
  it('signs t.<body> with HMAC-SHA256 and verifies it', () => {
    const header = signBody('k', '{"x":1}', NOW);
    assert.match(header, /^t=1700000000,v1=[0-9a-f]{64}$/);
    assert.deepEqual(verifySignature('k', '{"x":1}', header, NOW), { ok: true });
  });

  it('rejects a changed body, a wrong secret, a stale timestamp and a missing header', () => {
    const header = signBody('k', 'body', NOW);
    assert.equal(verifySignature('k', 'body!', header, NOW).ok, false);
    assert.equal(verifySignature('other', 'body', header, NOW).ok, false);
    assert.deepEqual(verifySignature('k', 'body', header, NOW + 301), {
      ok: false,
      reason: 'signature timestamp outside tolerance',
    });
    assert.deepEqual(verifySignature('k', 'body', undefined, NOW), {
      ok: false,
      reason: 'missing signature',
    });
  });
});

describe('tracking tokens', () => {
  it('round-trips a signed payload before its expiry', () => {
    const token = createTrackingToken('s', { a: 'act', c: 'email', k: 'o', e: NOW + 10 });
    const r = verifyTrackingToken('s', token, NOW);
    assert.ok(r.ok);
    assert.equal(r.payload.a, 'act');
  });

  it('answers 410 after expiry and 404 for a tampered payload, signature or secret', () => {
    const token = createTrackingToken('s', { a: 'act', c: 'email', k: 'o', e: NOW - 1 });
    assert.deepEqual(
      (({ ok, status }) => ({ ok, status }))(
        verifyTrackingToken('s', token, NOW) as { ok: boolean; status: number },
      ),
      { ok: false, status: 410 },
    );
    const [p, sig] = createTrackingToken('s', { a: 'act', c: 'email', k: 'o', e: NOW + 10 }).split('.');
    const forged = Buffer.from(JSON.stringify({ a: 'other', c: 'email', k: 'o', e: NOW + 10 })).toString(
      'base64url',
    );
    for (const bad of [`${forged}.${sig}`, `${p}.${sig.slice(1)}x`, 'garbage', `${p}.`]) {
      const r = verifyTrackingToken('s', bad, NOW);
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.status, 404, bad);
    }
    assert.equal(verifyTrackingToken('other', `${p}.${sig}`, NOW).ok, false);
  });

  it('verifies links signed before a rotation with the previous secrets, and only with them', () => {
    const old = createTrackingToken('old', { a: 'act', c: 'email', k: 'o', e: NOW + 10 });
    assert.equal(verifyTrackingToken('new', old, NOW).ok, false);
    assert.ok(verifyTrackingToken(['new', 'old'], old, NOW).ok);
    const fresh = createTrackingToken('new', { a: 'act', c: 'email', k: 'o', e: NOW + 10 });
    assert.ok(verifyTrackingToken(['new', 'old'], fresh, NOW).ok);
    assert.equal(verifyTrackingToken(['other'], fresh, NOW).ok, false);
  });

  it('binds click tokens to their target URL', () => {
    const token = createTrackingToken(
      's',
      { a: 'act', c: 'email', k: 'c', e: NOW + 10 },
      'https://ok.example/',
    );
    assert.ok(verifyTrackingToken('s', token, NOW, 'https://ok.example/').ok);
    assert.equal(verifyTrackingToken('s', token, NOW, 'https://evil.example/').ok, false);
  });

  it('adds an open pixel and rewrites absolute links only', () => {
    const html =
      '<html><body><a href="https://x.example/a?b=1&amp;c=2">x</a> <a href="mailto:m@x">m</a> <a href="#top">t</a></body></html>';
    const out = addTracking(html, links);
    assert.ok(out.includes(`<img src="${openPixelUrl(links)}"`));
    assert.ok(out.indexOf('<img') < out.indexOf('</body>'));
    assert.ok(out.includes(clickUrl(links, 'https://x.example/a?b=1&c=2').replace(/&/g, '&amp;')));
    assert.ok(out.includes('href="mailto:m@x"'));
    assert.ok(out.includes('href="#top"'));
    assert.ok(openPixelUrl(links).startsWith('http://t.example/t/o/'));
  });
});
