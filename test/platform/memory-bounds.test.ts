// Every long-lived in-memory structure is bounded by entries and by age, oldest first, through the real
// structures with injected clocks (no timing): the digest nonces, the directory cache, the embedded shared
// state's streams and counters, the server transaction table, and the voxgate_memory_structure_entries gauge
// that shows them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createDirectoryCache, createSipAuthenticator } from '../../src/gateway/index.js';
import { Registry } from '../../src/observability/index.js';
import { exportStructureSizes } from '../../src/platform/memory-metrics.js';
import {
  answerChallenge,
  computeHa1,
  createDigestServer,
  createTransactionLayer,
  parseMessage,
  type DigestAlgorithm,
  type InboundContext,
  type SipRequest,
} from '../../src/sip/index.js';
import { createMemorySharedState, streamEntryBytes } from '../../src/store/shared-state/index.js';

const realm = 'acme.example';
const lookup = (username: string, algorithm: DigestAlgorithm) =>
  computeHa1(algorithm, username, realm, 's3cret');

/** A digest server remembering at most 3 nonces for 60 s, on the given clock. */
const nonceServer = (now: () => number) =>
  createDigestServer({ realm, secret: randomBytes(32), nonceTtlMs: 60_000, maxTrackedNonces: 3, now });

/** alice's answer to `challenges`, her `nc`-th use of its nonce. */
const aliceAnswer = (challenges: string[], nc = 1) =>
  answerChallenge({
    challenges,
    method: 'REGISTER',
    uri: `sip:${realm}`,
    username: 'alice',
    password: 's3cret',
    previousUses: nc - 1,
  })!.authorization;

/**
 * A nonce server on a clock from 1,000,000 ms (`clock.now`), and its verify of alice's answers, each moving the
 * clock a millisecond on.
 */
function clockedNonceServer() {
  const clock = { now: 1_000_000 };
  const server = nonceServer(() => clock.now);
  const verify = async (authorization: string) => {
    const verdict = await server.verify('REGISTER', [authorization], lookup);
    clock.now += 1;
    return verdict;
  };
  return { clock, server, verify };
}

describe('memory bounds', () => {
  test('digest nonces: at most maxTrackedNonces, oldest first, none past the TTL, and no replay opened', async () => {
    let now = 1_000_000;
    const server = nonceServer(() => now);
    const register = async () => {
      const authorization = aliceAnswer(server.challenges());
      assert.equal((await server.verify('REGISTER', [authorization], lookup)).ok, true);
      now += 1;
      return authorization;
    };
    const first = await register();
    for (let i = 0; i < 4; i++) await register();
    assert.equal(server.trackedNonces, 3, 'the cap holds');
    // The first nonce was evicted while still usable: its replay is answered stale, never accepted.
    assert.deepEqual(await server.verify('REGISTER', [first], lookup), {
      ok: false,
      reason: 'stale',
      stale: true,
    });

    now += 60_000; // every remembered nonce has expired
    await register();
    assert.equal(server.trackedNonces, 1, 'entries older than the TTL are gone');
  });

  test('digest nonces: the oldest issued is forgotten first at the cap, answered or not; a forgotten answered nonce is stale, a remembered one keeps refusing its replays', async () => {
    const { clock, server, verify } = clockedNonceServer();
    const stale = { ok: false, reason: 'stale', stale: true };
    const replay = { ok: false, reason: 'replay', stale: true };
    const [a, b, c] = [0, 1, 2].map(() => server.challenges());
    assert.equal((await verify(aliceAnswer(a!, 1))).ok, true);
    assert.equal((await verify(aliceAnswer(b!, 1))).ok, true);
    assert.equal((await verify(aliceAnswer(c!, 1))).ok, true);
    assert.equal((await verify(aliceAnswer(a!, 2))).ok, true, 'a nonce used again: its count grows');
    assert.deepEqual(await verify(aliceAnswer(a!, 2)), replay);
    assert.equal(server.trackedNonces, 3, 'the cap holds');
    // A fourth nonce takes the slot of the oldest issued, a, answered while usable: from now on stale, whatever
    // its count (never taken for the first answer of a nonce from elsewhere).
    const d = server.challenges();
    assert.deepEqual(await verify(aliceAnswer(a!, 3)), stale);
    assert.deepEqual(await verify(aliceAnswer(a!, 1)), stale);
    assert.deepEqual(await verify(aliceAnswer(b!, 1)), replay, 'b is still remembered');
    // Many uses of one nonce take no more room.
    for (let nc = 1; nc < 3000; nc++) assert.equal((await verify(aliceAnswer(d, nc))).ok, true);
    assert.equal(server.trackedNonces, 3);
    assert.deepEqual(await verify(aliceAnswer(c!, 1)), replay, 'c was kept');
    clock.now += 60_000;
    assert.equal((await verify(aliceAnswer(server.challenges(), 1))).ok, true);
    assert.equal(server.trackedNonces, 1, 'entries older than the TTL are gone');
  });

  test('digest nonces: one forgotten before its answer came (answers delayed while the ring turned over) is taken once; a forgotten answered one, and one past the answered bits, are stale', async () => {
    const { clock, server, verify } = clockedNonceServer();
    const stale = { ok: false, reason: 'stale', stale: true };
    const late = aliceAnswer(server.challenges()); // its answer delayed
    clock.now += 1;
    const b = aliceAnswer(server.challenges());
    assert.equal((await verify(b)).ok, true);
    // Three more nonces: the late one's slot, then b's (answered, still usable) are taken.
    for (let i = 0; i < 3; i++) server.challenges();
    assert.equal((await verify(late)).ok, true, 'the late answer is a first answer');
    assert.deepEqual(await verify(late), stale, 'and once only');
    assert.deepEqual(await verify(b), stale, 'b was answered before it was forgotten');
    // An unanswered nonce older than the answered bits reach (32 nonces a slot): stale, as nothing says it was
    // not answered.
    const old = aliceAnswer(server.challenges());
    for (let i = 0; i < 32 * 3; i++) server.challenges();
    assert.deepEqual(await verify(old), stale);
    const recent = aliceAnswer(server.challenges());
    for (let i = 0; i < 32 * 3 - 1; i++) server.challenges();
    assert.equal((await verify(recent)).ok, true, 'the last nonce the bits reach');
  });

  test('digest realms: at most maxRealms servers, the oldest made dropped; a nonce answered on a dropped one is stale on the next, never a first answer', async () => {
    const state = createMemorySharedState();
    const auth = createSipAuthenticator({
      users: {
        findCredentials: async (domain: string, username: string) =>
          ({
            userId: username,
            tenantId: domain,
            username,
            ha1Md5: computeHa1('MD5', username, domain, 's3cret'),
            ha1Sha256: computeHa1('SHA-256', username, domain, 's3cret'),
            enabled: true,
            tenantActive: true,
          }) as never,
        digestAlgorithms: async () => undefined,
      },
      counters: state.counters,
      policy: { banThreshold: 100, banSeconds: 60, nonceSecret: randomBytes(32), digestAlgorithms: ['MD5'] },
      maxRealms: 2,
    });
    const register = (domain: string, authorization?: string) =>
      parseMessage(
        Buffer.from(
          `REGISTER sip:${domain} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK${randomBytes(4).toString('hex')}\r\n` +
            `From: <sip:alice@${domain}>;tag=1\r\nTo: <sip:alice@${domain}>\r\nCall-ID: c@192.0.2.1\r\nCSeq: 1 REGISTER\r\n` +
            `Contact: <sip:alice@192.0.2.1>\r\nMax-Forwards: 70\r\n${authorization ? `Authorization: ${authorization}\r\n` : ''}Content-Length: 0\r\n\r\n`,
        ),
        { datagram: true },
      ) as SipRequest;
    /** A challenge for `domain`, answered: the Authorization header. */
    const answered = async (domain: string) => {
      let challenges: string[] = [];
      await auth.authenticate(
        register(domain),
        (_s, _r, headers) => {
          challenges = headers!['WWW-Authenticate'] as string[];
        },
        '192.0.2.1',
        domain,
        'registrar',
      );
      return answerChallenge({
        challenges,
        method: 'REGISTER',
        uri: `sip:${domain}`,
        username: 'alice',
        password: 's3cret',
      })!.authorization;
    };
    const verify = async (domain: string, authorization: string) => {
      let status = 0;
      const creds = await auth.authenticate(
        register(domain, authorization),
        (s) => {
          status = s;
        },
        '192.0.2.1',
        domain,
        'registrar',
      );
      return creds ? 200 : status;
    };
    const a = await answered('a.example');
    assert.equal(await verify('a.example', a), 200);
    assert.equal(await verify('a.example', a), 401, 'a replay on the same server');
    // Two more realms: a.example's server, the oldest, is dropped, and made again at its next request.
    assert.equal(await verify('b.example', await answered('b.example')), 200);
    assert.equal(await verify('c.example', await answered('c.example')), 200);
    assert.equal(
      await verify('a.example', a),
      401,
      'the replay is stale on the new server, not a first answer',
    );
    // The realm still works: a fresh challenge is answered.
    assert.equal(await verify('a.example', await answered('a.example')), 200);
  });

  test('directory cache: at most maxEntries, oldest first, expired entries dropped at insertion', async () => {
    let now = 0;
    const loads: string[] = [];
    const missing = async () => undefined;
    const cache = createDirectoryCache(
      {
        routing: {
          trunkBySource: missing,
          trunkByUsername: missing,
          numberOwner: missing,
          routes: async () => [],
          allTrunks: async () => [],
          registeringTrunks: async () => [],
        },
        tenants: { findByDomain: missing },
        users: {
          findCredentialsOf: async (_domain: string, usernames: readonly string[]) => {
            loads.push(...usernames);
            return new Map();
          },
          digestAlgorithms: missing,
        },
      },
      { ttlMs: 10_000, maxEntries: 3, now: () => now },
    );
    for (const u of ['a', 'b', 'c', 'd', 'e']) await cache.users.findCredentials(realm, u);
    assert.equal(cache.stats.size, 3, 'the cap holds');
    await cache.users.findCredentials(realm, 'e');
    await cache.users.findCredentials(realm, 'a');
    assert.deepEqual(loads, ['a', 'b', 'c', 'd', 'e', 'a'], 'e was kept, a (the oldest) was evicted');

    now += 10_001; // all expired
    await cache.users.findCredentials(realm, 'f');
    assert.equal(cache.stats.size, 1, 'entries older than the TTL are gone');

    // A table per realm, keyed by the realm lower-cased: one username in two realms is two entries; a realm's
    // table dropped with its last entry is made again by the next lookup in it.
    await cache.users.findCredentials('other.example', 'f');
    await cache.users.findCredentials('OTHER.example', 'f');
    assert.equal(cache.stats.size, 2);
    now += 10_001;
    await cache.users.findCredentials('third.example', 'g'); // drops both realms' entries
    await cache.users.findCredentials(realm, 'f');
    await cache.users.findCredentials(realm, 'f');
    assert.deepEqual(loads.slice(-4), ['f', 'f', 'g', 'f'], 'f in the other realm, g, f again after its TTL');
    assert.equal(cache.stats.size, 2);
  });

  test('embedded event streams: at most streamMaxLen entries and none older than streamMaxAgeMs', async () => {
    let now = 1_000_000;
    const state = createMemorySharedState({
      streamMaxLen: 10,
      streamMaxAgeMs: 60_000,
      sweepMs: 3_600_000,
      now: () => now,
    });
    try {
      for (let i = 0; i < 25; i++) await state.events.publish('call-events', { n: String(i) });
      const entries = () => state.structures!()['stream_entries:call-events']!;
      // Trimmed like Redis's MAXLEN ~: in steps of a tenth, so never above the cap and a tenth.
      assert.ok(entries() <= 11, `${entries()} entries`);
      const read = await state.events.consume('call-events', 'g', 'c', { count: 100 });
      assert.equal(read[0]!.fields.n, String(25 - read.length), 'the oldest went first');
      assert.equal(read.at(-1)!.fields.n, '24');

      now += 60_000 + 6_001; // older than the age and its tenth of slack
      await state.events.publish('call-events', { n: 'late' });
      assert.equal(entries(), 1, 'entries older than the age are gone');
      // Delivered and not acked: kept by the group, whatever their age.
      assert.equal(state.structures!()['stream_pending:call-events'], read.length);

      // What a consumer group has not read yet stays past the age (up to the cap): a slow worker loses nothing.
      await state.events.consume('slow', 'lagging', 'c', { count: 0 });
      for (let i = 0; i < 3; i++) await state.events.publish('slow', { n: String(i) });
      now += 60_000 + 6_001;
      await state.events.publish('slow', { n: 'late' });
      assert.equal(state.structures!()['stream_entries:slow'], 4);
      const lagging = await state.events.consume('slow', 'lagging', 'c', { count: 100 });
      assert.deepEqual(
        lagging.map((e) => e.fields.n),
        ['0', '1', '2', 'late'],
      );
    } finally {
      await state.close();
    }
  });

  test('embedded event streams: at most streamMaxBytes, the oldest first; entries a group had not read are counted lost', async () => {
    const lost: [string, number][] = [];
    const value = 'x'.repeat(1000);
    const one = streamEntryBytes({ v: value, n: '0' });
    const state = createMemorySharedState({
      streamMaxLen: 1_000_000,
      streamMaxBytes: 10 * one,
      sweepMs: 3_600_000,
      now: () => 1_000_000,
      onTrimmedUnread: (stream, count) => lost.push([stream, count]),
    });
    try {
      // A group reads the first 5 as they come; nobody reads the rest.
      await state.events.consume('call-events', 'worker', 'c', { count: 0 });
      for (let i = 0; i < 5; i++) await state.events.publish('call-events', { v: value, n: String(i) });
      assert.equal((await state.events.consume('call-events', 'worker', 'c', { count: 100 })).length, 5);
      for (let i = 5; i < 30; i++) await state.events.publish('call-events', { v: value, n: String(i) });
      const entries = state.structures!()['stream_entries:call-events']!;
      // Trimmed in steps of a tenth, like the entry cap: never above the cap and a tenth.
      assert.ok(entries >= 8 && entries <= 11, `${entries} entries of ${one} bytes`);
      const left = await state.events.consume('call-events', 'worker', 'c', { count: 100 });
      assert.equal(left.at(-1)!.fields.n, '29', 'the newest stay');
      assert.equal(left[0]!.fields.n, String(30 - left.length), 'the oldest went first');
      // Of the 30 - left.length trimmed, the 5 the group had read were not lost; the others were, and said so.
      const counted = lost.reduce((sum, [, n]) => sum + n, 0);
      assert.equal(counted, 30 - left.length - 5);
      assert.ok(lost.every(([stream]) => stream === 'call-events'));
    } finally {
      await state.close();
    }
  });

  test('embedded counters: at most maxCounters, the least recently changed first; expired ones swept', async () => {
    let now = 0;
    const state = createMemorySharedState({ maxCounters: 3, sweepMs: 3_600_000, now: () => now });
    try {
      for (const ip of ['a', 'b', 'c']) await state.counters.incr(`ban:${ip}`, 1, 60);
      await state.counters.incr('ban:a', 1, 60); // a changed last: b is now the oldest
      await state.counters.incr('ban:d', 1, 60);
      assert.equal(state.structures!().state_counters, 3, 'the cap holds');
      assert.equal(await state.counters.get('ban:b'), 0, 'b (least recently changed) was evicted');
      assert.equal(await state.counters.get('ban:a'), 2);
      now += 61_000;
      assert.equal(await state.counters.get('ban:a'), 0, 'expired counters read as zero');
    } finally {
      await state.close();
    }
  });

  test('server transactions: at most maxServerTransactions; beyond, a new request is answered 503 and not kept', () => {
    const sent: string[] = [];
    const ctx: InboundContext = {
      transport: 'tcp',
      remote: { address: '192.0.2.1', port: 5060 },
      reliable: true,
      reply: () => undefined,
      send: (bytes) => sent.push(bytes.toString('latin1').split('\r\n')[0]!),
    };
    const seen: string[] = [];
    const layer = createTransactionLayer({
      maxServerTransactions: 2,
      tu: { onRequest: (request) => seen.push(request.callId) },
    });
    const register = (n: number) =>
      parseMessage(
        Buffer.from(
          [
            'REGISTER sip:acme.example SIP/2.0',
            `Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK-cap-${n}`,
            'Max-Forwards: 70',
            'From: <sip:alice@acme.example>;tag=a',
            'To: <sip:alice@acme.example>',
            `Call-ID: cap-${n}`,
            `CSeq: ${n} REGISTER`,
            'Content-Length: 0',
            '',
            '',
          ].join('\r\n'),
        ),
        { datagram: false },
      ) as SipRequest;
    for (const n of [1, 2, 3]) layer.handleRequest(register(n), ctx);
    assert.deepEqual(layer.size, { server: 2, client: 0 }, 'the cap holds');
    assert.deepEqual(seen, ['cap-1', 'cap-2'], 'the third never reached the TU');
    assert.deepEqual(sent, ['SIP/2.0 503 Service Unavailable']);
    assert.equal(layer.refusedFull, 1);
    layer.close();
  });

  test('voxgate_memory_structure_entries: one family, each module its structures, removed on stop', async () => {
    const registry = new Registry();
    let cache = 7;
    const stopA = exportStructureSizes(registry, { directory_cache: () => cache, absent: () => undefined });
    const stopB = exportStructureSizes(registry, () => ({ 'stream_entries:call-events': 42 }));
    const text = async () => registry.metrics();
    assert.match(await text(), /voxgate_memory_structure_entries\{structure="directory_cache"\} 7/);
    assert.match(
      await text(),
      /voxgate_memory_structure_entries\{structure="stream_entries:call-events"\} 42/,
    );
    assert.doesNotMatch(await text(), /structure="absent"/);
    cache = 8;
    assert.match(await text(), /structure="directory_cache"\} 8/);
    stopA();
    assert.doesNotMatch(await text(), /directory_cache/);
    stopB();
  });
});
