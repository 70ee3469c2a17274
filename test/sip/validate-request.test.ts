import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseMessage,
  requestUriOf,
  validateRequest,
  type SipRequest,
  type SipUri,
  type UasPolicy,
} from '../../src/sip/index.js';

const policy: UasPolicy = {
  allowedMethods: ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS'],
  supportedExtensions: ['100rel', 'timer'],
  acceptedContentTypes: ['application/sdp'],
  uriSchemes: ['sip', 'sips', 'tel'],
  responseContentType: 'application/sdp',
  enforceMaxForwards: true,
};

function request(
  method: string,
  extra: string[] = [],
  options: { uri?: string; body?: string } = {},
): SipRequest {
  const body = options.body ?? '';
  const text = [
    `${method} ${options.uri ?? 'sip:bob@example.com'} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKv1',
    'Max-Forwards: 70',
    'From: <sip:alice@example.com>;tag=a',
    'To: <sip:bob@example.com>',
    'Call-ID: validate-1',
    `CSeq: 1 ${method}`,
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
  const m = parseMessage(Buffer.from(text), { datagram: true });
  assert.ok(m.kind === 'request');
  return m;
}

describe('validateRequest: the UAS checks of RFC 3261 §8.2', () => {
  test('a plain request passes', () => {
    assert.equal(validateRequest(request('OPTIONS'), policy), undefined);
  });

  test('§8.2.1: a known method not allowed here → 405, an unknown one → 501, both with Allow', () => {
    assert.deepEqual(validateRequest(request('REGISTER'), policy), {
      status: 405,
      reason: 'Method Not Allowed',
      headers: { Allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS' },
    });
    assert.equal(validateRequest(request('FOO.BAR'), policy)?.status, 501);
    assert.equal(
      validateRequest(request('FOO.BAR'), policy)?.headers['Allow'],
      'INVITE, ACK, CANCEL, BYE, OPTIONS',
    );
  });

  test('§8.2.2.1: an unsupported Request-URI scheme → 416; tel is served', () => {
    assert.equal(
      validateRequest(request('OPTIONS', [], { uri: 'mailto:bob@example.com' }), policy)?.status,
      416,
    );
    assert.equal(validateRequest(request('OPTIONS', [], { uri: 'tel:+15551234' }), policy), undefined);
  });

  test('§8.2.2.3: Require of an unknown option tag → 420 with Unsupported; known tags pass; CANCEL is not inspected', () => {
    const r = validateRequest(request('INVITE', ['Require: timer, Foo', 'Require: bar']), policy);
    assert.deepEqual(r, { status: 420, reason: 'Bad Extension', headers: { Unsupported: 'Foo, bar' } });
    assert.equal(validateRequest(request('INVITE', ['Require: 100rel']), policy), undefined);
    assert.equal(validateRequest(request('CANCEL', ['Require: foo']), policy), undefined);
  });

  test('§8.2.3: a body of a type not understood → 415 with Accept; none at all → 415', () => {
    const r = validateRequest(
      request('INVITE', ['Content-Type: application/x-unknown'], { body: 'xyz' }),
      policy,
    );
    assert.deepEqual(r, {
      status: 415,
      reason: 'Unsupported Media Type',
      headers: { Accept: 'application/sdp' },
    });
    assert.equal(validateRequest(request('INVITE', [], { body: 'v=0\r\n' }), policy)?.status, 415);
    assert.equal(
      validateRequest(request('INVITE', ['c: Application/SDP'], { body: 'v=0\r\n' }), policy),
      undefined,
    );
  });

  test('§21.4.7: an INVITE whose Accept excludes what we answer with → 406; ranges match', () => {
    assert.equal(validateRequest(request('INVITE', ['Accept: text/nonsense']), policy)?.status, 406);
    assert.equal(
      validateRequest(request('INVITE', ['Accept: text/plain, application/*']), policy),
      undefined,
    );
  });

  test('§16.3 step 3: Max-Forwards 0 → 483, except OPTIONS, which the element may answer', () => {
    assert.equal(validateRequest(withMaxForwards('INVITE', '0'), policy)?.status, 483);
    assert.equal(validateRequest(withMaxForwards('OPTIONS', '0'), policy), undefined);
    assert.equal(
      validateRequest(withMaxForwards('INVITE', '0'), { ...policy, enforceMaxForwards: false }),
      undefined,
    );
  });

  test('ACK is never rejected (§17.1.1.3: no response to an ACK)', () => {
    assert.equal(validateRequest(request('ACK', ['Require: foo']), policy), undefined);
  });

  test('400 for what the parser does not see in requests built in code; 505 for another version', () => {
    const base = request('INVITE');
    const without = (name: string): SipRequest => ({
      ...base,
      headers: base.headers.filter((h) => h.name !== name),
    });
    assert.equal(validateRequest(without('Call-ID'), policy)?.status, 400);
    assert.equal(validateRequest(without('From'), policy)?.status, 400);
    const dup: SipRequest = { ...base, headers: [...base.headers, { name: 'CSeq', value: '2 INVITE' }] };
    assert.equal(validateRequest(dup, policy)?.status, 400);
    assert.equal(validateRequest({ ...base, cseq: { seq: 1, method: 'BYE' } }, policy)?.status, 400);
    assert.equal(validateRequest({ ...base, version: 'SIP/3.0' }, policy)?.status, 505);
  });

  test('the 400 names what is wrong: a missing header before a duplicate, each in the order of §8.1.1', () => {
    const base = request('INVITE');
    const warning = (r: SipRequest) => validateRequest(r, policy)?.headers.Warning;
    const headers = [...base.headers.filter((h) => h.name !== 'To'), { name: 'Expires', value: '5' }];
    const twice = [...headers, { name: 'Expires', value: '6' }, { name: 'From', value: '<sip:x@y>;tag=b' }];
    assert.equal(warning({ ...base, headers: twice }), '399 voxgate "missing To"');
    assert.equal(
      warning({ ...base, headers: [...twice, { name: 'To', value: '<sip:bob@example.com>' }] }),
      '399 voxgate "duplicate From"',
    );
    assert.equal(validateRequest({ ...base, version: 'sip/2.0' }, policy), undefined);
  });

  test('§12.1.1: a dialog-creating request whose Contact is a wildcard has no remote target → 400', () => {
    assert.equal(validateRequest(request('INVITE', ['Contact: *']), policy)?.status, 400);
    assert.equal(validateRequest(request('INVITE', ['Contact: <sip:a@192.0.2.1>']), policy), undefined);
  });

  test('the Request-URI is parsed once per request; a copy with another URI gets its own', () => {
    const base = request('INVITE');
    assert.equal(requestUriOf(base), requestUriOf(base));
    const copy: SipRequest = { ...base, uri: 'sip:carol@example.org' };
    assert.equal((requestUriOf(copy) as SipUri).user, 'carol');
    assert.equal((requestUriOf(base) as SipUri).user, 'bob');
  });

  test('a malformed Contact, Max-Forwards or Require is a 400 once looked at (they are parsed lazily)', () => {
    assert.equal(validateRequest(request('INVITE', ['Contact: sip:a@b?x=y']), policy)?.status, 400);
    assert.equal(validateRequest(withMaxForwards('INVITE', 'ten'), policy)?.status, 400);
    assert.equal(validateRequest(request('INVITE', ['Require: a b']), policy)?.status, 400);
  });
});

function withMaxForwards(method: string, value: string): SipRequest {
  const base = request(method);
  return {
    ...base,
    headers: base.headers.map((h) => (h.name === 'Max-Forwards' ? { name: h.name, value } : h)),
  };
}
