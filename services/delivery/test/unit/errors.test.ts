import assert from 'node:assert/strict';
import { classifyHttpStatus, classifySmtpError, httpNetworkError } from '../../src/domain/errors';

describe('failure classification', () => {
  it('treats HTTP 4xx as permanent except 408 and 429, and 5xx as transient', () => {
    assert.equal(classifyHttpStatus(200), undefined);
    assert.equal(classifyHttpStatus(204), undefined);
    assert.equal(classifyHttpStatus(400), 'permanent');
    assert.equal(classifyHttpStatus(404), 'permanent');
    assert.equal(classifyHttpStatus(410), 'permanent');
    assert.equal(classifyHttpStatus(408), 'transient');
    assert.equal(classifyHttpStatus(429), 'transient');
    assert.equal(classifyHttpStatus(500), 'transient');
    assert.equal(classifyHttpStatus(503), 'transient');
  });

  it('treats SMTP 5xx replies as permanent and 4xx replies as transient (nothing sent)', () => {
    const perm = classifySmtpError({ responseCode: 550, response: '550 mailbox unavailable' });
    assert.equal(perm.kind, 'permanent');
    assert.match(perm.message, /550/);
    const temp = classifySmtpError({ responseCode: 451, response: '451 try later' });
    assert.equal(temp.kind, 'transient');
    assert.equal(temp.maybeSent, false);
  });

  it('treats a refused connection or a setup timeout as transient and certainly not sent', () => {
    for (const e of [
      { code: 'ESOCKET', originalCode: 'ECONNREFUSED', message: 'connect ECONNREFUSED' },
      { code: 'ETIMEDOUT', timeoutType: 'GREETING_TIMEOUT', message: 'Greeting never received' },
      { code: 'EDNS', message: 'getaddrinfo ENOTFOUND' },
    ]) {
      const d = classifySmtpError(e);
      assert.equal(d.kind, 'transient');
      assert.equal(d.maybeSent, false, e.message);
    }
  });

  it('treats a dropped or timed-out SMTP session as maybe sent (so it is never resent)', () => {
    const d = classifySmtpError({ code: 'ETIMEDOUT', timeoutType: 'SOCKET_TIMEOUT', message: 'Timeout' });
    assert.equal(d.kind, 'transient');
    assert.equal(d.maybeSent, true);
    assert.equal(
      classifySmtpError({ code: 'ECONNECTION', message: 'Connection closed unexpectedly' }).maybeSent,
      true,
    );
  });

  it('treats HTTP network errors as transient, timeouts as maybe delivered', () => {
    const refused = httpNetworkError(
      Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }),
      'sms',
    );
    assert.equal(refused.kind, 'transient');
    assert.match(refused.message, /ECONNREFUSED/);
    const timeout = httpNetworkError(Object.assign(new Error('aborted'), { name: 'TimeoutError' }), 'sms');
    assert.equal(timeout.kind, 'transient');
    assert.equal(timeout.maybeSent, true);
  });
});
