import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { answerChallenge } from '../../src/sip/index.js';
import {
  createSipUserRepository,
  createTenantRepository,
  type SipDigestAlgorithm,
} from '../../src/store/index.js';
import { startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { udpRequest } from '../helpers/udp.js';

/*
 * Which digest challenges a phone gets (issue #17): the platform's list (VOXGATE_SIP_DIGEST_ALGORITHMS, MD5
 * alone by default — one challenge, which every phone answers), a tenant's own list, a user's own list.
 */

let cseq = 1;
const tag = () => Math.random().toString(36).slice(2);

function register(user: string, authorization?: string): string {
  return [
    'REGISTER sip:acme.example SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK${tag()};rport`,
    'Max-Forwards: 70',
    `From: <sip:${user}@acme.example>;tag=${tag()}`,
    `To: <sip:${user}@acme.example>`,
    `Call-ID: digest-${user}@127.0.0.1`,
    `CSeq: ${cseq++} REGISTER`,
    `Contact: <sip:${user}@192.0.2.10:5062>`,
    'Expires: 600',
    ...(authorization ? [`Authorization: ${authorization}`] : []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const status = (reply: string) => Number(reply.slice(8, 11));
const challengesIn = (reply: string, name = 'WWW-Authenticate') =>
  [...reply.matchAll(new RegExp(`\\r\\n${name}: ([^\\r]*)`, 'g'))].map((m) => m[1]!);
const algorithmOf = (challenge: string) => /algorithm=([A-Za-z0-9-]+)/.exec(challenge)?.[1];

async function challengeFor(gw: GatewayHarness, user: string): Promise<string[]> {
  const reply = (await udpRequest(gw.port, register(user))).toString('latin1');
  assert.equal(status(reply), 401, reply.split('\r\n')[0]);
  return challengesIn(reply);
}

/** REGISTERs `user`, answering the one challenge of `algorithm` (or the client's choice); the final status. */
async function registerAs(
  gw: GatewayHarness,
  user: string,
  password: string,
  options: { algorithm?: SipDigestAlgorithm; as?: string } = {},
): Promise<number> {
  const offered = await challengeFor(gw, user);
  const chosen = options.algorithm ? offered.filter((c) => algorithmOf(c) === options.algorithm) : offered;
  assert.equal(chosen.length > 0, true, `no ${options.algorithm} challenge in ${offered.join(' | ')}`);
  const answer = answerChallenge({
    challenges: chosen,
    method: 'REGISTER',
    uri: 'sip:acme.example',
    username: options.as ?? user,
    password,
  });
  assert.ok(answer);
  return status((await udpRequest(gw.port, register(user, answer.authorization))).toString('latin1'));
}

/** An INVITE from `from` to bob; the 407's Proxy-Authenticate values (the 407 is ACKed). */
async function inviteChallenges(gw: GatewayHarness, from: string): Promise<string[]> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  const branch = `z9hG4bK${tag()}`;
  const callId = `${tag()}@127.0.0.1`;
  const fromHeader = `From: <sip:${from}@acme.example>;tag=${tag()}`;
  const common = (method: string, to: string) => [
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch};rport`,
    'Max-Forwards: 70',
    fromHeader,
    to,
    `Call-ID: ${callId}`,
    `CSeq: 1 ${method}`,
  ];
  try {
    const final = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no final answer to the INVITE')), 5000);
      socket.on('message', (msg) => {
        const text = msg.toString('latin1');
        if (status(text) >= 200) {
          clearTimeout(timer);
          resolve(text);
        }
      });
    });
    const invite = [
      'INVITE sip:bob@acme.example SIP/2.0',
      ...common('INVITE', 'To: <sip:bob@acme.example>'),
      `Contact: <sip:${from}@127.0.0.1:${port}>`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    socket.send(invite, gw.port, '127.0.0.1');
    const reply = await final;
    assert.equal(status(reply), 407, reply.split('\r\n')[0]);
    const to = /\r\n(To: [^\r]*)/.exec(reply)![1]!;
    const ack = ['ACK sip:bob@acme.example SIP/2.0', ...common('ACK', to), 'Content-Length: 0', '', ''];
    socket.send(ack.join('\r\n'), gw.port, '127.0.0.1');
    return challengesIn(reply, 'Proxy-Authenticate');
  } finally {
    socket.close();
  }
}

describe('digest challenges: the platform default, a tenant list, a user list (RFC 8760)', () => {
  let gw: GatewayHarness;
  const tenants = () => createTenantRepository(gw.db);
  const users = () => createSipUserRepository(gw.db);
  const setUser = async (username: string, list: SipDigestAlgorithm[] | null) => {
    const user = (await users().list(gw.tenantId, { limit: 10 })).find((u) => u.username === username);
    assert.ok(user);
    await users().update(gw.tenantId, user.id, { sipDigestAlgorithms: list });
  };

  before(async () => {
    // The harness's platform list is the platform's default, VOXGATE_SIP_DIGEST_ALGORITHMS=MD5.
    gw = await startGateway();
  });
  afterEach(async () => {
    await tenants().update(gw.tenantId, { sipDigestAlgorithms: null });
    for (const u of ['alice', 'bob', 'carol']) await setUser(u, null);
  });
  after(() => gw.close());

  test('by default exactly one WWW-Authenticate: MD5 with qop="auth"', async () => {
    const offered = await challengeFor(gw, 'alice');
    assert.equal(offered.length, 1, offered.join(' | '));
    assert.match(
      offered[0]!,
      /^Digest realm="acme\.example", nonce="[^"]+", opaque="[^"]+", algorithm=MD5, qop="auth"$/,
    );
    assert.equal(await registerAs(gw, 'alice', 's3cret'), 200);
    // The same for an INVITE (407 with one Proxy-Authenticate) and for a user that does not exist.
    assert.deepEqual((await inviteChallenges(gw, 'alice')).map(algorithmOf), ['MD5']);
    assert.deepEqual((await challengeFor(gw, 'nobody')).map(algorithmOf), ['MD5']);
  });

  test('a tenant with ["SHA-256","MD5"]: two challenges in that order, for known and unknown users alike', async () => {
    await tenants().update(gw.tenantId, { sipDigestAlgorithms: ['SHA-256', 'MD5'] });
    const offered = await challengeFor(gw, 'alice');
    assert.deepEqual(offered.map(algorithmOf), ['SHA-256', 'MD5']);
    assert.match(offered[0]!, /qop="auth"/);
    assert.match(offered[1]!, /qop="auth"/);
    assert.equal(/nonce="([^"]+)"/.exec(offered[0]!)?.[1], /nonce="([^"]+)"/.exec(offered[1]!)?.[1]);
    // A tenant's list says nothing about which users exist: an unknown one gets the same challenges.
    assert.deepEqual((await challengeFor(gw, 'nobody')).map(algorithmOf), ['SHA-256', 'MD5']);
    assert.deepEqual((await inviteChallenges(gw, 'alice')).map(algorithmOf), ['SHA-256', 'MD5']);
  });

  test("a user's own list wins over the tenant's and the platform's (To of a REGISTER, From of an INVITE)", async () => {
    await tenants().update(gw.tenantId, { sipDigestAlgorithms: ['SHA-256', 'MD5'] });
    await setUser('bob', ['MD5']);
    await setUser('carol', ['SHA-256']);
    assert.deepEqual((await challengeFor(gw, 'bob')).map(algorithmOf), ['MD5']);
    assert.deepEqual((await challengeFor(gw, 'carol')).map(algorithmOf), ['SHA-256']);
    assert.deepEqual(
      (await challengeFor(gw, 'alice')).map(algorithmOf),
      ['SHA-256', 'MD5'],
      'the tenant list',
    );
    assert.deepEqual((await inviteChallenges(gw, 'carol')).map(algorithmOf), ['SHA-256']);
    assert.deepEqual((await inviteChallenges(gw, 'bob')).map(algorithmOf), ['MD5']);
    // Back to the platform's when the tenant inherits again; the user's list still wins.
    await tenants().update(gw.tenantId, { sipDigestAlgorithms: null });
    assert.deepEqual((await challengeFor(gw, 'alice')).map(algorithmOf), ['MD5']);
    assert.deepEqual((await challengeFor(gw, 'carol')).map(algorithmOf), ['SHA-256']);
  });

  test('a user with ["SHA-256","MD5"] registers with a SHA-256 answer, and with an MD5 one', async () => {
    await setUser('alice', ['SHA-256', 'MD5']);
    assert.deepEqual((await challengeFor(gw, 'alice')).map(algorithmOf), ['SHA-256', 'MD5']);
    assert.equal(await registerAs(gw, 'alice', 's3cret', { algorithm: 'SHA-256' }), 200);
    assert.equal(await registerAs(gw, 'alice', 's3cret', { algorithm: 'MD5' }), 200);
    assert.equal(await registerAs(gw, 'alice', 'wrong', { algorithm: 'SHA-256' }), 401);
    // Without a list of its own alice is back on the platform's: MD5 only, a SHA-256 answer is refused.
    await setUser('alice', null);
    const reply = await udpRequest(
      gw.port,
      register(
        'alice',
        answerChallenge({
          challenges: ['Digest realm="acme.example", nonce="x.y.z", algorithm=SHA-256, qop="auth"'],
          method: 'REGISTER',
          uri: 'sip:acme.example',
          username: 'alice',
          password: 's3cret',
        })!.authorization,
      ),
    );
    assert.equal(status(reply.toString('latin1')), 401);
  });

  test('an answer must be one the answering user may use, whatever user the request names', async () => {
    // carol accepts SHA-256 only; a REGISTER naming bob (the tenant's MD5) answered as carol with MD5 does not
    // get her in, neither as bob (403 would say the password was right) nor at all: 401 like a wrong password.
    await setUser('carol', ['SHA-256']);
    assert.equal(await registerAs(gw, 'bob', 'c4rol', { as: 'carol', algorithm: 'MD5' }), 401);
    assert.equal(await registerAs(gw, 'carol', 'c4rol', { algorithm: 'SHA-256' }), 200);
  });
});
