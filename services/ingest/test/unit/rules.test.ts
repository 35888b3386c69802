import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { events } from '@kairos/contracts';
import { Authenticator, authorizeEvent, keyFromHeaders, sha256Hex } from '../../src/domain/auth';
import { Classifier } from '../../src/domain/classification';
import { DEFAULT_TOLERANCE_MS, ReplayGuard, signPayload, verifySignature } from '../../src/domain/hmac';
import { globMatcher, Prioritizer, sampledIn } from '../../src/domain/prioritization';
import { parseRules } from '../../src/domain/rules-file';
import { TokenBucket } from '../../src/domain/token-bucket';

const C = events.EventCategory;
const ev = (e: Partial<events.Event>) =>
  events.Event.fromPartial({ id: 'e1', type: 'a.b', customerId: 'c', ...e });

describe('Classifier', () => {
  const classifier = new Classifier(
    parseRules(
      'categories: [{prefix: "payment.", category: system}, {prefix: "payment.refund.", category: external}, {prefix: "schedule.", category: time_based}]',
      't',
    ),
  );
  it('uses the longest matching prefix and falls back to customer_action', () => {
    assert.equal(classifier.classify('payment.failed'), C.EVENT_CATEGORY_SYSTEM);
    assert.equal(classifier.classify('payment.refund.issued'), C.EVENT_CATEGORY_EXTERNAL);
    assert.equal(classifier.classify('schedule.birthday'), C.EVENT_CATEGORY_TIME_BASED);
    assert.equal(classifier.classify('cart.item_added'), C.EVENT_CATEGORY_CUSTOMER_ACTION);
  });
});

describe('Prioritizer', () => {
  const counts = new Map<string, number>();
  const counter = {
    inc: (l: { rule: string; decision: string }) =>
      counts.set(`${l.rule}/${l.decision}`, (counts.get(`${l.rule}/${l.decision}`) ?? 0) + 1),
  };
  const prioritizer = new Prioritizer(
    parseRules(
      `prioritization:
  - { name: keep-vip, type: "*", when: "event.properties.tier == 'vip'", action: pass }
  - { name: drop-debug, type: "debug.*", action: drop }
  - { name: small-carts, type: cart.item_added, when: "event.properties.price < 1.0", action: drop }
  - { name: scrolls, type: page.scroll, action: sample, rate: 0.25 }`,
      't',
    ).prioritization,
    counter,
  );

  it('applies the first rule whose glob and CEL condition match, and counts the decision', () => {
    assert.deepEqual(prioritizer.decide(ev({ type: 'debug.trace.x' })), { keep: false, rule: 'drop-debug' });
    assert.deepEqual(prioritizer.decide(ev({ type: 'debug.x', properties: { tier: 'vip' } })), {
      keep: true,
    });
    assert.deepEqual(prioritizer.decide(ev({ type: 'cart.item_added', properties: { price: 0.5 } })), {
      keep: false,
      rule: 'small-carts',
    });
    assert.deepEqual(prioritizer.decide(ev({ type: 'cart.item_added', properties: { price: 5 } })), {
      keep: true,
    });
    assert.equal(counts.get('drop-debug/dropped'), 1);
    assert.equal(counts.get('keep-vip/passed'), 1);
  });

  it('treats a condition that fails to evaluate (missing property) as not matching', () => {
    assert.deepEqual(prioritizer.decide(ev({ type: 'cart.item_added', properties: {} })), { keep: true });
  });

  it('samples deterministically by event id at the configured rate', () => {
    let kept = 0;
    for (let i = 0; i < 4000; i++)
      if (prioritizer.decide(ev({ id: `s-${i}`, type: 'page.scroll' })).keep) kept++;
    assert.ok(kept > 850 && kept < 1150, `kept ${kept} of 4000 at 25%`);
    assert.equal(sampledIn('same-id', 0.5), sampledIn('same-id', 0.5));
    assert.equal(sampledIn('x', 0), false);
    assert.equal(sampledIn('x', 1), true);
    assert.equal((counts.get('scrolls/sampled_in') ?? 0) + (counts.get('scrolls/sampled_out') ?? 0), 4000);
  });

  it('matches globs with * across dots', () => {
    assert.ok(globMatcher('debug.*')('debug.a.b'));
    assert.ok(!globMatcher('debug.*')('debugger'));
    assert.ok(globMatcher('page.view')('page.view'));
    assert.ok(!globMatcher('page.view')('page.viewed'));
  });

  it('refuses invalid CEL at start-up, naming the rule', () => {
    assert.throws(
      () => new Prioritizer([{ name: 'broken', type: '*', when: 'event.(', action: 'drop' }]),
      /rule 'broken': invalid CEL/,
    );
  });
});

describe('HMAC webhook signatures', () => {
  const body = Buffer.from('{"id":"1"}');
  const now = 1_750_000_000_000;
  const t = now / 1000;

  it('accepts a valid signature within the tolerance', () => {
    const check = verifySignature(signPayload('s3cret', body, t - 60), body, 's3cret', now);
    assert.equal(check.ok, true);
  });

  it('accepts any of several v1 signatures (secret rotation)', () => {
    const good = signPayload('new', body, t).split('v1=')[1];
    assert.equal(verifySignature(`t=${t},v1=${'0'.repeat(64)},v1=${good}`, body, 'new', now).ok, true);
  });

  it('rejects a wrong secret, a changed body, a stale timestamp and malformed headers', () => {
    assert.deepEqual(verifySignature(signPayload('other', body, t), body, 's3cret', now), {
      ok: false,
      reason: 'signature does not match the body',
    });
    assert.equal(
      verifySignature(signPayload('s3cret', body, t), Buffer.from('{"id":"2"}'), 's3cret', now).ok,
      false,
    );
    const stale = verifySignature(signPayload('s3cret', body, t - 301), body, 's3cret', now);
    assert.equal(stale.ok, false);
    assert.match((stale as { reason: string }).reason, /outside the 300s tolerance/);
    assert.match((verifySignature('v1=abc', body, 's3cret', now) as { reason: string }).reason, /malformed/);
    assert.match((verifySignature(undefined, body, 's3cret', now) as { reason: string }).reason, /missing/);
  });

  it('remembers signatures within the window to reject replays, and forgets them after', () => {
    const guard = new ReplayGuard();
    assert.equal(guard.reserve('sig', now, now), true);
    assert.equal(guard.reserve('sig', now, now + 1000), false);
    guard.release('sig');
    assert.equal(guard.reserve('sig', now, now + 2000), true);
    assert.equal(
      guard.reserve('other', now + DEFAULT_TOLERANCE_MS + 1, now + DEFAULT_TOLERANCE_MS + 1),
      true,
    );
    assert.equal(guard.size, 1, 'the expired signature was swept');
  });
});

describe('TokenBucket', () => {
  it('admits a burst, then asks to wait until tokens refill', () => {
    const bucket = new TokenBucket(10, 5, 0);
    assert.equal(bucket.take(5, 0), 0);
    assert.equal(bucket.take(1, 0), 100);
    assert.equal(bucket.take(1, 100), 0);
    assert.equal(bucket.take(2, 100), 200);
  });

  it('admits a request larger than the bucket when full, leaving it in debt', () => {
    const bucket = new TokenBucket(10, 5, 0);
    assert.equal(bucket.take(8, 0), 0);
    assert.equal(bucket.available(0), -3);
    assert.equal(bucket.take(1, 0), 400);
  });
});

describe('Authenticator', () => {
  const rules = parseRules(
    JSON.stringify({
      apiKeys: [
        {
          name: 'web',
          sha256: sha256Hex('k1'),
          allowedCategories: ['customer_action'],
          allowedSources: ['web-eu'],
        },
      ],
    }),
    't',
  );
  const auth = new Authenticator(rules, 0);

  it('finds keys by their sha256 and refuses missing or unknown keys', () => {
    assert.equal(auth.authenticate(undefined).ok, false);
    assert.equal(auth.authenticate('k2').ok, false);
    const ok = auth.authenticate('k1');
    assert.ok(ok.ok && ok.principal.name === 'web');
  });

  it('is off (anonymous) when no keys are configured', () => {
    const open = new Authenticator(parseRules('{}', 't'), 0);
    assert.equal(open.enabled, false);
    assert.equal(open.authenticate(undefined).ok, true);
  });

  it('reads Bearer and x-api-key headers', () => {
    assert.equal(keyFromHeaders('Bearer abc', undefined), 'abc');
    assert.equal(keyFromHeaders(undefined, 'xyz'), 'xyz');
    assert.equal(keyFromHeaders('Basic abc', undefined), undefined);
  });

  it('stamps the source and enforces allowed sources and categories', () => {
    const principal = (auth.authenticate('k1') as { principal: Parameters<typeof authorizeEvent>[0] })
      .principal;
    const e = ev({ category: C.EVENT_CATEGORY_CUSTOMER_ACTION });
    assert.equal(authorizeEvent(principal, e, 'event'), undefined);
    assert.equal(e.source, 'web');
    assert.equal(
      authorizeEvent(
        principal,
        ev({ category: C.EVENT_CATEGORY_CUSTOMER_ACTION, source: 'web-eu' }),
        'event',
      ),
      undefined,
    );
    assert.match(
      authorizeEvent(principal, ev({ category: C.EVENT_CATEGORY_CUSTOMER_ACTION, source: 'crm' }), 'event')!,
      /^event\.source: API key 'web' may not send events as source 'crm'/,
    );
    assert.match(
      authorizeEvent(principal, ev({ category: C.EVENT_CATEGORY_SYSTEM }), 'event')!,
      /^event\.category: API key 'web' may not send EVENT_CATEGORY_SYSTEM events/,
    );
  });
});

describe('rules file', () => {
  it('reports every bad field with its path', () => {
    assert.throws(
      () =>
        parseRules(
          'apiKeys: [{name: a, sha256: nothex}]\nprioritization: [{name: x, action: sample}]',
          'f.yaml',
        ),
      (err: Error) =>
        /apiKeys\.0\.sha256: expected 64 lower-case hex/.test(err.message) &&
        /prioritization\.0: action sample needs a rate/.test(err.message),
    );
  });

  it('parses the shipped example configuration', () => {
    const rules = parseRules(
      readFileSync(join(__dirname, '../../../config.example.yaml'), 'utf8'),
      'example',
    );
    assert.ok(
      rules.apiKeys.length > 0 && rules.prioritization.length > 0 && Object.keys(rules.webhooks).length > 0,
    );
  });
});
