// Issue #21: the Authorization header of each real SIP client of the interop suite, as it answers voxgate's
// default challenge (VOXGATE_SIP_DIGEST_ALGORITHMS=MD5: `Digest realm="interop.test", nonce="…", opaque="…",
// algorithm=MD5, qop="auth"`, made by createDigestServer). The forms were captured on the wire on 2026-12-03
// from the Debian packages — baresip 1.0.0-4+b3 (libre0 1.1.0-1+b2), linphone-cli 5.1.65-4 (libbellesip1
// 5.1.64+dfsg-2), twinkle-console 1:1.10.2+dfsg-2, sip-tester 1:3.6.1-1+b2 (SIPp 3.6.1), sipvicious 0.3.3-2 —
// each started by its interop driver (test/interop/clients/) over UDP against a registrar that challenged with
// createDigestServer({ realm: 'interop.test', algorithms: ['MD5'] }), svcrack as svcrack.test.ts runs it.
// Every byte of each line is the client's (header name, spacing, parameter order, quoting, case) except the
// values in braces: the nonce and opaque of our challenge, the client's cnonce (filled with the one it sent)
// and the response, which the test computes (RFC 7616 §3.4.1) so that it is right for the password.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  computeHa1,
  computeResponse,
  createDigestServer,
  headerValues,
  parseAuthHeader,
  parseMessage,
  type DigestAlgorithm,
  type DigestServer,
} from '../../src/sip/index.js';
import { ACCOUNTS, DOMAIN } from '../interop/lib/accounts.js';

interface ClientForm {
  /** The client as the interop suite names it, its version and SIP stack: the tests' names. */
  readonly client: string;
  /** The Request-URI of the client's REGISTER. */
  readonly requestUri: string;
  /** The interop account it registered as (alice; mallory for svcrack). */
  readonly account: string;
  /** The header line as sent, with {nonce}, {opaque}, {cnonce} and {response} in place of those values. */
  readonly line: string;
  /** The client nonce it sent in the capture (random: its length and alphabet are its own). */
  readonly cnonce: string;
  /** The digest-uri and nonce-count in the line: the response is computed over them. */
  readonly uri: string;
  readonly nc: string;
  /** What parseAuthHeader must read from it, in the client's order. */
  readonly params: readonly (readonly [string, string])[];
}

/** Placeholders of a form, filled per test. */
interface Filled {
  readonly nonce: string;
  readonly opaque: string;
  readonly cnonce: string;
  readonly response: string;
}

const FORMS: readonly ClientForm[] = [
  {
    // libre puts no algorithm (absent means MD5, RFC 7616 §3.4) and uses its Request-URI with the transport
    // parameter as the digest-uri.
    client: 'baresip 1.0 / libre',
    requestUri: 'sip:interop.test;transport=udp',
    account: 'alice',
    line: 'Authorization: Digest username="alice", realm="interop.test", nonce="{nonce}", uri="sip:interop.test;transport=udp", response="{response}", opaque="{opaque}", cnonce="{cnonce}", qop=auth, nc=00000001',
    cnonce: '8519494f2b03146a',
    uri: 'sip:interop.test;transport=udp',
    nc: '00000001',
    params: [
      ['username', 'alice'],
      ['realm', 'interop.test'],
      ['nonce', '{nonce}'],
      ['uri', 'sip:interop.test;transport=udp'],
      ['response', '{response}'],
      ['opaque', '{opaque}'],
      ['cnonce', '{cnonce}'],
      ['qop', 'auth'],
      ['nc', '00000001'],
    ],
  },
  {
    // belle-sip: two spaces after the colon and before uri, realm first, the challenge's parameters echoed in
    // its order (realm, nonce, algorithm, opaque) before its own.
    client: 'Linphone 5.1 / belle-sip',
    requestUri: 'sip:interop.test',
    account: 'alice',
    line: 'Authorization:  Digest realm="interop.test", nonce="{nonce}", algorithm=MD5, opaque="{opaque}", username="alice",  uri="sip:interop.test", response="{response}", cnonce="{cnonce}", nc=00000001, qop=auth',
    cnonce: 'ARu8OYQl7VctBeYP',
    uri: 'sip:interop.test',
    nc: '00000001',
    params: [
      ['realm', 'interop.test'],
      ['nonce', '{nonce}'],
      ['algorithm', 'MD5'],
      ['opaque', '{opaque}'],
      ['username', 'alice'],
      ['uri', 'sip:interop.test'],
      ['response', '{response}'],
      ['cnonce', '{cnonce}'],
      ['nc', '00000001'],
      ['qop', 'auth'],
    ],
  },
  {
    // No space after the commas (RFC 3261 §25.1 COMMA = SWS "," SWS: allowed).
    client: 'Twinkle 1.10',
    requestUri: 'sip:interop.test',
    account: 'alice',
    line: 'Authorization: Digest username="alice",realm="interop.test",nonce="{nonce}",uri="sip:interop.test",response="{response}",algorithm=MD5,cnonce="{cnonce}",opaque="{opaque}",qop=auth,nc=00000001',
    cnonce: '1ceaa73b17',
    uri: 'sip:interop.test',
    nc: '00000001',
    params: [
      ['username', 'alice'],
      ['realm', 'interop.test'],
      ['nonce', '{nonce}'],
      ['uri', 'sip:interop.test'],
      ['response', '{response}'],
      ['algorithm', 'MD5'],
      ['cnonce', '{cnonce}'],
      ['opaque', '{opaque}'],
      ['qop', 'auth'],
      ['nc', '00000001'],
    ],
  },
  {
    // SIPp's [authentication] (phone.xml gives it no uri): the digest-uri is the server's address, not the
    // Request-URI sip:interop.test (RFC 2617 §3.2.2.5 has it duplicate the Request-URI). voxgate's verify does
    // not compare the two. Its cnonce is 8 hex digits of rand() never seeded: 6b8b4567 first, then 327b23c6.
    client: 'SIPp 3.6',
    requestUri: 'sip:interop.test',
    account: 'alice',
    line: 'Authorization: Digest username="alice",realm="interop.test",cnonce="{cnonce}",nc=00000001,qop=auth,uri="sip:127.0.0.1:5090",nonce="{nonce}",response="{response}",algorithm=MD5,opaque="{opaque}"',
    cnonce: '6b8b4567',
    uri: 'sip:127.0.0.1:5090',
    nc: '00000001',
    params: [
      ['username', 'alice'],
      ['realm', 'interop.test'],
      ['cnonce', '{cnonce}'],
      ['nc', '00000001'],
      ['qop', 'auth'],
      ['uri', 'sip:127.0.0.1:5090'],
      ['nonce', '{nonce}'],
      ['response', '{response}'],
      ['algorithm', 'MD5'],
      ['opaque', '{opaque}'],
    ],
  },
  {
    // Its first guess (svcrack -u mallory --domain interop.test -d <dictionary>); the response comes last but one.
    client: 'SIPVicious svcrack 0.3.3',
    requestUri: 'sip:interop.test',
    account: 'mallory',
    line: 'Authorization: Digest username="mallory",realm="interop.test",nonce="{nonce}",uri="sip:interop.test",cnonce="{cnonce}",nc=00000001,algorithm=MD5,qop=auth,response="{response}",opaque="{opaque}"',
    cnonce: '7e0cc04439954ef9bc08f1c14b37a977',
    uri: 'sip:interop.test',
    nc: '00000001',
    params: [
      ['username', 'mallory'],
      ['realm', 'interop.test'],
      ['nonce', '{nonce}'],
      ['uri', 'sip:interop.test'],
      ['cnonce', '{cnonce}'],
      ['nc', '00000001'],
      ['algorithm', 'MD5'],
      ['qop', 'auth'],
      ['response', '{response}'],
      ['opaque', '{opaque}'],
    ],
  },
];

/** The interop accounts the forms were captured with; the store keeps HA1 only. */
const lookup = (username: string, algorithm: DigestAlgorithm) => {
  const password = ACCOUNTS[username]?.password;
  return password === undefined ? undefined : computeHa1(algorithm, username, DOMAIN, password);
};

/** voxgate's default challenge (VOXGATE_SIP_DIGEST_ALGORITHMS=MD5) and its nonce and opaque. */
function challenge(): { server: DigestServer; nonce: string; opaque: string } {
  const server = createDigestServer({ realm: DOMAIN, secret: randomBytes(32), algorithms: ['MD5'] });
  const [offered, ...more] = server.challenges();
  assert.equal(more.length, 0, 'one challenge');
  assert.match(
    offered!,
    /^Digest realm="interop\.test", nonce="[^"]+", opaque="[^"]+", algorithm=MD5, qop="auth"$/,
  );
  const params = parseAuthHeader(offered!)!.params;
  return { server, nonce: params.nonce!, opaque: params.opaque! };
}

const fill = (text: string, values: Filled) =>
  text.replace(/\{(nonce|opaque|cnonce|response)\}/g, (_m, key: keyof Filled) => values[key]);

/** The form's header line answering `c.nonce` with `password`; a later request's nc and cnonce when given. */
function answer(
  form: ClientForm,
  c: { nonce: string; opaque: string },
  password: string,
  later?: { nc: string; cnonce: string },
): string {
  const nc = later?.nc ?? form.nc;
  const cnonce = later?.cnonce ?? form.cnonce;
  const line = later ? form.line.replace(`nc=${form.nc}`, `nc=${nc}`) : form.line;
  const ha1 = computeHa1('MD5', form.account, DOMAIN, password);
  const response = computeResponse('MD5', {
    ha1,
    nonce: c.nonce,
    method: 'REGISTER',
    uri: form.uri,
    qop: 'auth',
    nc,
    cnonce,
  });
  return fill(line, { nonce: c.nonce, opaque: c.opaque, cnonce, response });
}

/** What voxgate's registrar hands to verify: the Authorization values of the REGISTER as parsed. */
function authorizationOf(form: ClientForm, line: string): string[] {
  const register = [
    `REGISTER ${form.requestUri} SIP/2.0`,
    'Via: SIP/2.0/UDP 127.0.0.1:15060;branch=z9hG4bK-forms;rport',
    `From: <sip:${form.account}@${DOMAIN}>;tag=forms`,
    `To: <sip:${form.account}@${DOMAIN}>`,
    'Call-ID: forms@127.0.0.1',
    'CSeq: 2 REGISTER',
    line,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const request = parseMessage(Buffer.from(register, 'utf8'), { datagram: true });
  return headerValues(request, 'Authorization');
}

const password = (form: ClientForm) => ACCOUNTS[form.account]!.password;

describe('digest answers of real SIP clients to voxgate’s default challenge (issue #21)', () => {
  for (const form of FORMS) {
    test(`${form.client}: the message parser and parseAuthHeader read every parameter of its form, in its order`, () => {
      const c = challenge();
      const line = answer(form, c, password(form));
      const values = authorizationOf(form, line);
      assert.deepEqual(
        values,
        [line.replace(/^Authorization:\s*/, '')],
        'one value, the line after the colon',
      );
      const parsed = parseAuthHeader(values[0]!);
      assert.equal(parsed?.scheme, 'Digest');
      const response = /response="([0-9a-f]{32})"/.exec(line)![1]!;
      const filled = { nonce: c.nonce, opaque: c.opaque, cnonce: form.cnonce, response };
      assert.deepEqual(
        Object.entries(parsed.params),
        form.params.map(([k, v]) => [k, fill(v, filled)]),
      );
    });

    test(`${form.client}: createDigestServer accepts its form with the right password and refuses a wrong one`, async () => {
      const c = challenge();
      const wrong = authorizationOf(form, answer(form, c, `${password(form)}-wrong`));
      assert.deepEqual(await c.server.verify('REGISTER', wrong, lookup), {
        ok: false,
        reason: 'bad-credentials',
        stale: false,
      });
      const right = authorizationOf(form, answer(form, c, password(form)));
      assert.deepEqual(await c.server.verify('REGISTER', right, lookup), {
        ok: true,
        username: form.account,
        algorithm: 'MD5',
      });
    });
  }

  test('Linphone 5.1 / belle-sip: its refresh and its un-REGISTER reuse the nonce with nc=00000002 and nc=00000003: accepted; a repeated count is a replay', async () => {
    const form = FORMS.find((f) => f.client.startsWith('Linphone'))!;
    const c = challenge();
    // A new cnonce of its shape each time, as it sent.
    const verify = (nc: string, cnonce: string) =>
      c.server.verify(
        'REGISTER',
        authorizationOf(form, answer(form, c, password(form), { nc, cnonce })),
        lookup,
      );
    const ok = { ok: true, username: 'alice', algorithm: 'MD5' };
    assert.deepEqual(await verify('00000001', form.cnonce), ok);
    assert.deepEqual(await verify('00000002', 'EgDBY0hn5bYLZ-OD'), ok);
    assert.deepEqual(await verify('00000003', 'u0rdyNRhLRsifYTE'), ok);
    assert.deepEqual(await verify('00000003', 'u0rdyNRhLRsifYTE'), {
      ok: false,
      reason: 'replay',
      stale: true,
    });
  });

  test('SIPVicious svcrack 0.3.3: after a wrong guess it answers the new nonce with nc=00000002 (its count runs on across nonces): accepted', async () => {
    const form = FORMS.find((f) => f.client.startsWith('SIPVicious'))!;
    const first = challenge();
    const guess = authorizationOf(form, answer(form, first, 'wrongpass'));
    assert.equal((await first.server.verify('REGISTER', guess, lookup)).ok, false);
    // voxgate challenges again with a new nonce (same server, same opaque).
    const next = parseAuthHeader(first.server.challenges()[0]!)!.params;
    const right = answer(form, { nonce: next.nonce!, opaque: next.opaque! }, password(form), {
      nc: '00000002',
      cnonce: '7bf26472f049473586dc9bb72c4541d1',
    });
    assert.deepEqual(await first.server.verify('REGISTER', authorizationOf(form, right), lookup), {
      ok: true,
      username: 'mallory',
      algorithm: 'MD5',
    });
  });
});
