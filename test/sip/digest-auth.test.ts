import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import {
  answerChallenge,
  computeHa1,
  computeResponse,
  createDigestServer,
  parseAuthHeader,
  type DigestAlgorithm,
  type DigestServer,
  type DigestVerdict,
} from '../../src/sip/index.js';
import { hmacSha256 } from '../../src/sip/auth/hmac.js';

/** Alice's answer (password s3cret) to `challenges` for a REGISTER to sip:acme.example; `changes` on top. */
const aliceAnswers = (
  challenges: readonly string[],
  changes: Partial<Parameters<typeof answerChallenge>[0]> = {},
) =>
  answerChallenge({
    challenges,
    method: 'REGISTER',
    uri: 'sip:acme.example',
    username: 'alice',
    password: 's3cret',
    ...changes,
  })!;

/** Alice's Authorization (password s3cret) for a REGISTER to sip:acme.example, answering `challenges`. */
const answerTo = (challenges: readonly string[]) => aliceAnswers(challenges).authorization;

/** The verdict refusing for `reason`; `stale` asks for a new challenge without asking the user. */
const refused = (reason: Extract<DigestVerdict, { ok: false }>['reason'], stale: boolean): DigestVerdict => ({
  ok: false,
  reason,
  stale,
});

describe('digest authentication (RFC 3261 §22, RFC 8760)', () => {
  test('the request-digest matches the RFC 7616 §3.9.1 examples for MD5 and SHA-256', () => {
    const input = {
      nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
      method: 'GET',
      uri: '/dir/index.html',
      qop: 'auth' as const,
      nc: '00000001',
      cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    };
    const vectors: [DigestAlgorithm, string][] = [
      ['MD5', '8ca523f5e9506fed4657c9700eebdbec'],
      ['SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
    ];
    for (const [algorithm, expected] of vectors) {
      const ha1 = computeHa1(algorithm, 'Mufasa', 'http-auth@example.org', 'Circle of Life');
      assert.equal(computeResponse(algorithm, { ...input, ha1 }), expected, algorithm);
    }
  });

  const realm = 'acme.example';
  const users: Record<string, string> = { alice: 's3cret' };
  /** The store keeps HA1 only: the lookup never sees a password. */
  const lookup = (username: string, algorithm: DigestAlgorithm) =>
    users[username] === undefined ? undefined : computeHa1(algorithm, username, realm, users[username]);
  /** A server of `realm` with a fresh key; `options` on top. */
  const digestServer = (options: Partial<Parameters<typeof createDigestServer>[0]> = {}) =>
    createDigestServer({ realm, secret: randomBytes(32), ...options });
  /** The server's verdict on a REGISTER carrying `authorization`. */
  const verifyRegister = (server: DigestServer, authorization: string) =>
    server.verify('REGISTER', [authorization], lookup);

  test('challenges offer SHA-256 before MD5, with qop="auth" quoted (§25.1 qop-options); the client picks SHA-256 and is accepted', async () => {
    const server = digestServer();
    const challenges = server.challenges();
    assert.deepEqual(
      challenges.map((c) => parseAuthHeader(c)?.params.algorithm),
      ['SHA-256', 'MD5'],
    );
    assert.match(
      challenges[0]!,
      /^Digest realm="acme\.example", nonce="[^"]+", opaque="[^"]+", algorithm=SHA-256, qop="auth"$/,
    );
    const answer = aliceAnswers(challenges);
    assert.equal(answer.algorithm, 'SHA-256');
    assert.deepEqual(await verifyRegister(server, answer.authorization), {
      ok: true,
      username: 'alice',
      algorithm: 'SHA-256',
    });
  });

  test('MD5-only clients still work when MD5 is offered', async () => {
    const server = digestServer();
    const md5Only = server.challenges().filter((c) => c.includes('algorithm=MD5'));
    const answer = aliceAnswers(md5Only, { method: 'INVITE', uri: 'sip:bob@acme.example' });
    assert.equal(answer.algorithm, 'MD5');
    assert.equal((await server.verify('INVITE', [answer.authorization], lookup)).ok, true);
  });

  test('an unknown user and a wrong password get the same verdict', async () => {
    const server = digestServer();
    const verdicts = [];
    for (const [username, password] of [
      ['alice', 'wrong'],
      ['mallory', 'anything'],
    ]) {
      const a = aliceAnswers(server.challenges(), { username: username!, password: password! });
      verdicts.push(await verifyRegister(server, a.authorization));
    }
    assert.deepEqual(verdicts[0], verdicts[1]);
    assert.deepEqual(verdicts[0], refused('bad-credentials', false));
  });

  test('many challenges outstanding at once are each answered once and their replays refused, past the first slots and round the ring', async () => {
    // 300 nonces in a ring of 200: it grows from its first slots, then wraps; the last 200 are remembered.
    const server = digestServer({ maxTrackedNonces: 200 });
    const answers = Array.from({ length: 300 }, () => answerTo(server.challenges()));
    assert.equal(server.trackedNonces, 200);
    for (const answer of answers.slice(100)) {
      assert.equal((await verifyRegister(server, answer)).ok, true);
      assert.deepEqual(await verifyRegister(server, answer), refused('replay', true));
    }
    // The first 100 were forgotten before any answer: a first answer is checked by its HMAC and accepted once.
    assert.equal((await verifyRegister(server, answers[0]!)).ok, true);
    assert.equal((await verifyRegister(server, answers[0]!)).ok, false);
  });

  test('a clock with fractions of a millisecond makes nonces that verify (the issue time is whole milliseconds)', async () => {
    let now = 1_700_000_000_000.75;
    const server = digestServer({ now: () => now });
    const answer = answerTo(server.challenges());
    now += 10.5;
    assert.equal((await verifyRegister(server, answer)).ok, true);
  });

  test('a replayed nonce-count is refused; a higher one is accepted', async () => {
    const server = digestServer();
    const challenges = server.challenges();
    const first = aliceAnswers(challenges, { previousUses: 0 });
    assert.equal((await verifyRegister(server, first.authorization)).ok, true);
    assert.deepEqual(await verifyRegister(server, first.authorization), refused('replay', true));
    const second = aliceAnswers(challenges, { previousUses: 1 });
    assert.equal((await verifyRegister(server, second.authorization)).ok, true);
  });

  test('an expired nonce is stale (re-challenge without asking the user); one no key of ours signed is stale with the right password, refused with a wrong one', async () => {
    const server = digestServer({ nonceTtlMs: 1 });
    const answer = answerTo(server.challenges());
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(await verifyRegister(server, answer), refused('stale', true));
    assert.match(server.challenges(true)[0]!, /, stale=TRUE$/);

    const other = digestServer();
    const forged = answerTo(other.challenges());
    const fresh = digestServer();
    // The password is right, the nonce is not ours (a restart with another key, a key rotated out): re-challenged
    // stale, nothing granted.
    assert.deepEqual(await verifyRegister(fresh, forged), refused('stale', true));
    const wrong = aliceAnswers(other.challenges(), { password: 'guess' });
    assert.deepEqual(await verifyRegister(fresh, wrong.authorization), refused('bad-credentials', false));
  });

  test('RFC 7616 §3.4: an answer without qop to a challenge that offered it (RFC 2069 style) is refused', async () => {
    const server = digestServer();
    const params = parseAuthHeader(server.challenges()[1]!)!.params; // MD5
    const ha1 = computeHa1('MD5', 'alice', realm, 's3cret');
    const response = computeResponse('MD5', {
      ha1,
      nonce: params.nonce!,
      method: 'REGISTER',
      uri: 'sip:acme.example',
    });
    const rfc2069 = `Digest username="alice", realm="${realm}", nonce="${params.nonce}", uri="sip:acme.example", response="${response}", algorithm=MD5`;
    assert.deepEqual(await verifyRegister(server, rfc2069), refused('qop-required', false));
  });

  test('the opaque is echoed by the client and checked: another one is refused', async () => {
    const server = digestServer();
    const answer = aliceAnswers(server.challenges());
    const sent = parseAuthHeader(answer.authorization)!.params.opaque;
    assert.equal(sent, parseAuthHeader(server.challenges()[0]!)!.params.opaque, 'echoed unchanged');
    const tampered = answer.authorization.replace(/opaque="[^"]*"/, 'opaque="other"');
    assert.deepEqual(await verifyRegister(server, tampered), refused('malformed', false));
    assert.equal((await verifyRegister(server, answer.authorization)).ok, true);
  });

  test('a realm with a quote and a backslash is escaped in the challenge (§25.1 quoted-pair) and read back', async () => {
    const odd = 'we"ird\\realm';
    const server = createDigestServer({ realm: odd, secret: randomBytes(32), algorithms: ['MD5'] });
    const [challenge] = server.challenges(true);
    assert.match(
      challenge!,
      /^Digest realm="we\\"ird\\\\realm", nonce="[^"]+", opaque="[^"]+", algorithm=MD5, qop="auth", stale=TRUE$/,
    );
    assert.equal(parseAuthHeader(challenge!)!.params.realm, odd);
    const answer = aliceAnswers([challenge!]);
    const ha1 = (username: string, algorithm: DigestAlgorithm) =>
      computeHa1(algorithm, username, odd, 's3cret');
    assert.equal((await server.verify('REGISTER', [answer.authorization], ha1)).ok, true);
  });

  test('a key ring being rotated: the nonce and opaque of the old key verify while it is accepted; new challenges carry the new key', async () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const ring: { current: Buffer; accepted: Buffer[] } = { current: oldKey, accepted: [oldKey] };
    const server = digestServer({ secret: ring });
    const opaqueOf = (header: string) => parseAuthHeader(header)!.params.opaque;
    const before = server.challenges();
    const answered = answerTo(before);
    ring.current = newKey;
    ring.accepted = [newKey, oldKey];
    const after = server.challenges();
    assert.notEqual(opaqueOf(after[0]!), opaqueOf(before[0]!), 'the opaque of the new key');
    assert.equal((await verifyRegister(server, answered)).ok, true, 'old key still accepted');
    assert.equal((await verifyRegister(server, answerTo(after))).ok, true);
    ring.accepted = [newKey];
    const late = answerTo(before);
    assert.deepEqual(await verifyRegister(server, late), refused('stale', true));
  });

  test('credentials keep qop, nc and algorithm as tokens (§25.1 message-qop, nonce-count)', () => {
    const answer = aliceAnswers(digestServer().challenges());
    assert.match(answer.authorization, /, qop=auth, nc=00000001$/);
    assert.match(answer.authorization, /, algorithm=SHA-256, /);
  });

  test('RFC 4475 §3.3.9: credentials of an unknown scheme are ignored (the request is challenged)', async () => {
    const server = digestServer();
    assert.deepEqual(
      await verifyRegister(server, 'NoOneKnowsThisScheme opaque-data=here'),
      refused('missing', false),
    );
  });

  test('a different method or a tampered response fails', async () => {
    const server = digestServer();
    const a = aliceAnswers(server.challenges());
    assert.equal((await server.verify('INVITE', [a.authorization], lookup)).ok, false);
    const tampered = a.authorization.replace(
      /response="([0-9a-f])/,
      (_m, c: string) => `response="${c === '0' ? '1' : '0'}`,
    );
    assert.equal((await verifyRegister(server, tampered)).ok, false);
    assert.equal((await verifyRegister(server, 'Digest username="alice", realm="acme.example"')).ok, false);
  });

  test("the nonces' HMAC is RFC 2104 HMAC-SHA256: the bytes createHmac gives, for short and long keys and text", () => {
    const texts = [
      '',
      'mnd3k2.Zm9vYmFyYmF6cXV4.',
      'opaque:acme.example',
      'é€😀 \u0000',
      'x'.repeat(256),
      'é'.repeat(400),
    ];
    for (const length of [0, 1, 32, 63, 64, 65, 200]) {
      const key = randomBytes(length);
      const mac = hmacSha256(key);
      for (const text of texts) {
        const expected = createHmac('sha256', key).update(text).digest('base64url');
        assert.equal(mac(text), expected, `key of ${length} bytes, text of ${text.length}`);
        assert.equal(mac(text), expected, 'the same again (buffers reused)');
      }
    }
  });

  test("a nonce this server did not issue or no longer remembers issuing is checked by its HMAC: another replica's with the same key verifies, a forged one is stale", async () => {
    const secret = randomBytes(32);
    const issuer = digestServer({ secret, maxTrackedNonces: 1 });
    const replica = digestServer({ secret });
    const first = answerTo(issuer.challenges());
    const second = answerTo(issuer.challenges()); // pushes the first, never answered, out of the ring
    assert.equal((await verifyRegister(replica, first)).ok, true, 'another replica');
    assert.equal((await verifyRegister(issuer, first)).ok, true, 'pushed out');
    assert.equal((await verifyRegister(issuer, second)).ok, true, 'remembered');
    // An answer, right for its nonce, to a challenge whose nonce was altered: not ours, re-challenged stale.
    const forged = answerTo(
      issuer
        .challenges()
        .map((c) =>
          c.replace(
            /nonce="([^"]+)"/,
            (_m, n: string) => `nonce="${n.slice(0, -1)}${n.endsWith('A') ? 'B' : 'A'}"`,
          ),
        ),
    );
    assert.deepEqual(await verifyRegister(issuer, forged), refused('stale', true));
  });
});
