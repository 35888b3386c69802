import assert from 'node:assert/strict';
import { createLogger, HttpServer } from '../../src';

describe('HttpServer: malformed percent-encoding in the path', function () {
  const server = new HttpServer(createLogger('http-test', 'silent'));
  const seen: string[] = [];
  let base = '';

  before(async () => {
    // Like the services' routes: each segment decoded with decodeURIComponent.
    server.addRoute((req, res) => {
      const segments = (req.url ?? '/').split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
      seen.push(segments.join('|'));
      res.writeHead(200).end('routed');
      return true;
    });
    base = `http://127.0.0.1:${await server.start(0, '127.0.0.1')}`;
  });
  after(() => server.close());

  for (const path of [
    '/webhooks/%ff',
    '/inbox/%ff',
    '/t/o/%ff.gif',
    '/t/c/%ff',
    '/callbacks/%ff',
    '/runs/%ff',
  ]) {
    it(`answers 400, not 500, to ${path}`, async () => {
      const res = await fetch(base + path);
      assert.equal(res.status, 400);
      assert.match(await res.text(), /^URL path: malformed percent-encoding/);
    });
  }

  it('answers 400 to a cut UTF-8 sequence or a non-hex escape, and routes well-formed escapes decoded', async () => {
    for (const path of ['/runs/%e2%82', '/runs/%zz', '/runs/%']) {
      assert.equal((await fetch(base + path)).status, 400, path);
    }
    const ok = await fetch(`${base}/runs/a%20b%E2%82%AC?x=%ff`);
    assert.equal(ok.status, 200);
    assert.equal(seen.at(-1), 'runs|a b€');
  });
});
