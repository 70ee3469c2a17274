import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { answerChallenge } from '../../src/sip/index.js';
import { startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { udpRequest } from '../helpers/udp.js';
import { sharedStateKinds } from '../helpers/redis.js';

let cseq = 1;
function register(
  port: number,
  options: {
    user?: string;
    contacts?: string[];
    expires?: number;
    authorization?: string;
    callId?: string;
    /** This CSeq instead of the next of the file's counter. */
    cseq?: number;
  },
): string {
  const user = options.user ?? 'alice';
  return [
    'REGISTER sip:acme.example SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    `From: <sip:${user}@acme.example>;tag=${Math.random().toString(36).slice(2)}`,
    `To: <sip:${user}@acme.example>`,
    `Call-ID: ${options.callId ?? 'reg-' + user}@127.0.0.1`,
    `CSeq: ${options.cseq ?? cseq++} REGISTER`,
    ...(options.contacts ?? ['<sip:alice@192.0.2.10:5062>']).map((c) => `Contact: ${c}`),
    ...(options.expires !== undefined ? [`Expires: ${options.expires}`] : []),
    ...(options.authorization ? [`Authorization: ${options.authorization}`] : []),
    'User-Agent: voxgate-test',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const status = (reply: string) => Number(reply.slice(8, 11));

/** Sends the same request twice from one socket (a retransmission), each time waiting for the answer. */
async function sentTwice(port: number, request: string): Promise<[string, string]> {
  const socket = createSocket('udp4');
  try {
    const answers: string[] = [];
    for (let i = 0; i < 2; i++) {
      const answer = once(socket, 'message', { signal: AbortSignal.timeout(5000) });
      socket.send(Buffer.from(request), port, '127.0.0.1');
      const [msg] = (await answer) as [Buffer];
      answers.push(msg.toString('latin1'));
    }
    return [answers[0]!, answers[1]!];
  } finally {
    socket.close();
  }
}
const challenges = (reply: string) =>
  [...reply.matchAll(/\r\nWWW-Authenticate: ([^\r]*)/g)].map((m) => m[1]!);

/** REGISTER, answer the 401 as a UA would, return the final response. */
async function registerWithAuth(
  port: number,
  options: Parameters<typeof register>[1] & { password?: string },
): Promise<string> {
  const first = (await udpRequest(port, register(port, options))).toString('latin1');
  assert.equal(status(first), 401, first.split('\r\n')[0]);
  const answer = answerChallenge({
    challenges: challenges(first),
    method: 'REGISTER',
    uri: 'sip:acme.example',
    username: options.user ?? 'alice',
    password: options.password ?? 's3cret',
  });
  assert.ok(answer);
  return (
    await udpRequest(port, register(port, { ...options, authorization: answer.authorization }))
  ).toString('latin1');
}

describe('registrar (RFC 3261 §10.3) over real UDP, users in PostgreSQL (PGlite), bindings in shared state', () => {
  let gw: GatewayHarness;
  before(async () => {
    gw = await startGateway({ banThreshold: 5 });
  });
  after(() => gw.close());

  test('a REGISTER without credentials is challenged once, with MD5 (the default; RFC 8760 lists: digest-algorithms.test.ts)', async () => {
    const reply = (await udpRequest(gw.port, register(gw.port, {}))).toString('latin1');
    assert.equal(status(reply), 401);
    const offered = challenges(reply);
    assert.equal(offered.length, 1);
    assert.match(
      offered[0]!,
      /^Digest realm="acme\.example", nonce="[^"]+", opaque="[^"]+", algorithm=MD5, qop="auth"$/,
    );
  });

  test("the registrar's nonces and realms are counted in the gateway's memory gauges (sip_digest_nonces, sip_digest_realms)", async () => {
    const before = gw.gateway.structures();
    const reply = (await udpRequest(gw.port, register(gw.port, { user: 'bob' }))).toString('latin1');
    assert.equal(status(reply), 401);
    const after = gw.gateway.structures();
    assert.equal(after.sip_digest_nonces, before.sip_digest_nonces! + 1, "the challenge's nonce is counted");
    assert.ok(after.sip_digest_realms! >= 1, "the registrar's realm is counted");
  });

  test('RFC 3261 §8.2.7: the challenge is stateless (a retransmission is challenged anew, same To tag, no transaction kept); with credentials a retransmission gets the same 200', async () => {
    const servers = () => gw.gateway.layer.size.server;
    const before = servers();
    const toTag = (reply: string) => /\r\nTo: [^\r]*;tag=([^;\r]+)/.exec(reply)?.[1];
    const nonce = (reply: string) => /nonce="([^"]+)"/.exec(reply)?.[1];
    const unauthenticated = register(gw.port, { callId: 'stateless-challenge' });
    const [first, again] = await sentTwice(gw.port, unauthenticated);
    assert.equal(status(first), 401);
    assert.equal(status(again), 401);
    assert.ok(toTag(first), 'the 401 has a To tag');
    assert.equal(toTag(again), toTag(first), 'the same tag for the same request (§8.2.7)');
    assert.notEqual(nonce(again), nonce(first), 'regenerated, not a transaction retransmitting its response');
    assert.equal(servers(), before, 'no server transaction for a challenge');

    const answer = answerChallenge({
      challenges: challenges(again),
      method: 'REGISTER',
      uri: 'sip:acme.example',
      username: 'alice',
      password: 's3cret',
    });
    assert.ok(answer);
    const authenticated = register(gw.port, {
      callId: 'stateless-challenge',
      authorization: answer.authorization,
    });
    const [ok, retransmitted] = await sentTwice(gw.port, authenticated);
    assert.equal(status(ok), 200, ok.split('\r\n')[0]);
    assert.equal(retransmitted, ok, 'the transaction sends its 200 again (a new request would be a replay)');
    assert.equal(servers(), before + 1);
  });

  test('with the right password the binding is stored with its source and listed in the 200', async () => {
    const ok = await registerWithAuth(gw.port, {
      contacts: ['<sip:alice@192.0.2.10:5062>;+sip.instance="<urn:uuid:1>"'],
      expires: 600,
    });
    assert.equal(status(ok), 200, ok.split('\r\n')[0]);
    assert.match(ok, /\r\nContact: <sip:alice@192\.0\.2\.10:5062>;expires=(59\d|600)\r\n/);
    const [binding] = await gw.state.registrations.list('sip:alice@acme.example');
    assert.equal(binding?.contact, 'sip:alice@192.0.2.10:5062');
    assert.equal(binding?.source.address, '127.0.0.1');
    assert.equal(binding?.transport, 'udp');
    assert.equal(binding?.instanceId, '<urn:uuid:1>');
    assert.equal(binding?.userAgent, 'voxgate-test');
  });

  test('several contacts per user; expires=0 removes one; Contact: * with Expires: 0 removes all', async () => {
    const two = await registerWithAuth(gw.port, {
      contacts: ['<sip:alice@198.51.100.7:5060;transport=tcp>'],
      expires: 300,
    });
    assert.equal(status(two), 200);
    assert.equal((two.match(/\r\nContact: /g) ?? []).length, 2, 'both bindings listed');
    const one = await registerWithAuth(gw.port, {
      contacts: ['<sip:alice@198.51.100.7:5060;transport=tcp>;expires=0'],
    });
    assert.equal((one.match(/\r\nContact: /g) ?? []).length, 1);
    const bad = await registerWithAuth(gw.port, { contacts: ['*'], expires: 60 });
    assert.equal(status(bad), 400, 'a wildcard needs Expires: 0');
    const all = await registerWithAuth(gw.port, { contacts: ['*'], expires: 0 });
    assert.equal(status(all), 200);
    assert.deepEqual(await gw.state.registrations.list('sip:alice@acme.example'), []);
  });

  test('RFC 3261 §10.3 step 7 and §19.1.4: a contact written otherwise (case, escapes, parameter order, an ignored parameter) refreshes its binding, now as written; a different URI is another binding; expires=0 in either spelling removes it', async () => {
    const aor = 'sip:alice@acme.example';
    const contacts = async () => (await gw.state.registrations.list(aor)).map((b) => b.contact).sort();
    await registerWithAuth(gw.port, { contacts: ['*'], expires: 0 });
    const first = await registerWithAuth(gw.port, {
      contacts: ['<sip:alice@Phone.Example:5062;transport=udp;lr>'],
      expires: 300,
    });
    assert.equal(status(first), 200);
    const again = await registerWithAuth(gw.port, {
      contacts: ['<sip:%61lice@phone.example:5062;LR;Transport=UDP;ob>'],
      expires: 300,
    });
    assert.equal(status(again), 200);
    assert.equal((again.match(/\r\nContact: /g) ?? []).length, 1, 'one binding listed');
    assert.match(again, /\r\nContact: <sip:%61lice@phone\.example:5062;LR;Transport=UDP;ob>;expires=/);
    assert.deepEqual(await contacts(), ['sip:%61lice@phone.example:5062;LR;Transport=UDP;ob']);
    // Another port and another user part are other URIs: bindings of their own.
    await registerWithAuth(gw.port, {
      contacts: ['<sip:alice@phone.example:5064;transport=udp>'],
      expires: 300,
    });
    await registerWithAuth(gw.port, {
      contacts: ['<sip:Alice@phone.example:5062;transport=udp>'],
      expires: 300,
    });
    assert.equal((await contacts()).length, 3);
    // Removed in the first spelling.
    const removed = await registerWithAuth(gw.port, {
      contacts: ['<sip:alice@PHONE.example:5062;transport=udp;lr>;expires=0'],
    });
    assert.equal(status(removed), 200);
    assert.deepEqual(await contacts(), [
      'sip:Alice@phone.example:5062;transport=udp',
      'sip:alice@phone.example:5064;transport=udp',
    ]);
    await registerWithAuth(gw.port, { contacts: ['*'], expires: 0 });
  });

  test('RFC 3261 §10.3 steps 6 and 7: a REGISTER older than the binding its Call-ID made fails whole with 400; the same CSeq again changes nothing; another Call-ID updates', async () => {
    const aor = 'sip:alice@acme.example';
    const callId = 'cseq-order';
    const contact = '<sip:alice@192.0.2.77:5060>';
    const at = (seq: number, expires: number, contacts = [contact]) =>
      registerWithAuth(gw.port, { callId, contacts, expires, cseq: seq });
    assert.equal(status(await at(20, 600)), 200);
    const older = await at(19, 0);
    assert.equal(status(older), 400, older.split('\r\n')[0]);
    assert.match(
      older,
      /\r\nWarning: 399 voxgate "CSeq 19 is not higher than 20, [^\r]*<sip:alice@192\.0\.2\.77:5060>"\r\n/,
    );
    const kept = await gw.state.registrations.list(aor);
    assert.deepEqual(
      kept.map((b) => [b.contact, b.cseq]),
      [['sip:alice@192.0.2.77:5060', 20]],
      'the overtaken removal changed nothing',
    );
    const again = await at(20, 0);
    assert.equal(status(again), 200, again.split('\r\n')[0]);
    assert.match(again, /\r\nContact: <sip:alice@192\.0\.2\.77:5060>;expires=(59\d|600)\r\n/);
    assert.equal(
      (await gw.state.registrations.list(aor)).length,
      1,
      'the same CSeq is the same request: no change',
    );
    const wildcard = await at(20, 0, ['*']);
    assert.equal(
      status(wildcard),
      400,
      "Contact: * needs a CSeq higher than its Call-ID's bindings (§10.3 step 6)",
    );
    assert.equal((await gw.state.registrations.list(aor)).length, 1);
    const rebooted = await registerWithAuth(gw.port, {
      callId: 'cseq-order-after-reboot',
      contacts: [contact],
      expires: 0,
      cseq: 1,
    });
    assert.equal(status(rebooted), 200, 'another Call-ID: updated whatever its CSeq');
    assert.deepEqual(await gw.state.registrations.list(aor), []);
  });

  test('at most 10 contacts per user: a new one replaces the one expiring first; 11 in one REGISTER get 403', async () => {
    const contact = (n: number) => `<sip:alice@192.0.2.${n}:5060>`;
    for (let n = 1; n <= 11; n++) {
      // Later contacts expire later: the first one is the one to go.
      assert.equal(
        status(await registerWithAuth(gw.port, { contacts: [contact(n)], expires: 600 + n })),
        200,
      );
    }
    const kept = (await gw.state.registrations.list('sip:alice@acme.example')).map((b) => b.contact).sort();
    assert.equal(kept.length, 10);
    assert.ok(!kept.includes('sip:alice@192.0.2.1:5060'), 'the binding expiring first was replaced');
    assert.ok(kept.includes('sip:alice@192.0.2.11:5060'));
    const many = await registerWithAuth(gw.port, {
      contacts: Array.from({ length: 11 }, (_, i) => contact(100 + i)),
      expires: 600,
    });
    assert.equal(status(many), 403);
    assert.equal((await gw.state.registrations.list('sip:alice@acme.example')).length, 10, 'nothing changed');
    assert.equal(status(await registerWithAuth(gw.port, { contacts: ['*'], expires: 0 })), 200);
  });

  test('an interval below the minimum gets 423 with Min-Expires', async () => {
    const brief = await registerWithAuth(gw.port, { expires: 30 });
    assert.equal(status(brief), 423);
    assert.match(brief, /\r\nMin-Expires: 60\r\n/);
  });

  test('RFC 4475 §3.3.5: an address-of-record that is not a SIP URI is refused with 400', async () => {
    const text = register(gw.port, {}).replace(
      'To: <sip:alice@acme.example>',
      'To: <name:alice@acme.example>',
    );
    assert.equal(status((await udpRequest(gw.port, text)).toString('latin1')), 400);
  });

  test('an unknown user gets exactly the answer of a wrong password; repeated failures ban the source', async () => {
    // Everything but the per-request values (nonce, tags, branch, rport, Call-ID, CSeq, From/To) must match.
    const shape = (reply: string) =>
      reply
        .replace(/nonce="[^"]+"/g, 'nonce=N')
        .replace(/rport=\d+/, 'rport=P')
        .replace(/branch=[^;\r]+/, '')
        .replace(/\r\n(Call-ID|CSeq|From|To): [^\r]+/g, '');
    const wrong = await registerWithAuth(gw.port, { password: 'nope' });
    const unknown = await registerWithAuth(gw.port, { user: 'mallory', password: 'nope' });
    assert.equal(status(wrong), 401);
    assert.equal(shape(wrong), shape(unknown));
    for (let i = 0; i < 3; i++) await registerWithAuth(gw.port, { password: 'still-wrong' });
    const banned = (await udpRequest(gw.port, register(gw.port, {}))).toString('latin1');
    assert.equal(status(banned), 403);
    assert.match(banned, /\r\nWarning: 399 voxgate "Too many failed authentications; try later"\r\n/);
  });
});

// §10.3: "REGISTER requests MUST be processed by a registrar in the order that they are received." On Redis the
// store's reads and writes take real round trips, and two REGISTERs handled side by side interleave there. On the
// in-memory state a REGISTER's store calls all end within the turn of the event loop that read it, so two cannot
// interleave and the case could not fail: it runs on Redis only.
describe('registrar: the REGISTERs of one AOR processed in the order received, on Redis shared state', async () => {
  for (const kind of (await sharedStateKinds()).filter((k) => k.name === 'Redis')) {
    test(
      `${kind.name}: the second of two REGISTERs sent back to back removes a contact the first adds, and it is gone`,
      { skip: kind.skip },
      async () => {
        const { state, cleanup } = await kind.make();
        const gw = await startGateway({ state });
        const aor = 'sip:alice@acme.example';
        const challenge = (await udpRequest(gw.port, register(gw.port, {}))).toString('latin1');
        const socket = createSocket('udp4');
        try {
          const replies: string[] = [];
          socket.on('message', (m: Buffer) => replies.push(m.toString('latin1')));
          await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
          const callId = `in-order-${Date.now()}`;
          const authorization = (previousUses: number) =>
            answerChallenge({
              challenges: challenges(challenge),
              method: 'REGISTER',
              uri: 'sip:acme.example',
              username: 'alice',
              password: 's3cret',
              previousUses,
            })!.authorization;
          // The first adds five contacts, the last one 192.0.2.99 (five writes); the second, sent at once after it,
          // removes 192.0.2.99 (one). Handled side by side, the second would read the bindings before the first
          // wrote, remove nothing, and leave the first to add it after.
          const last = '<sip:alice@192.0.2.99:5062>';
          const first = register(gw.port, {
            callId,
            cseq: cseq++,
            contacts: [1, 2, 3, 4].map((n) => `<sip:alice@192.0.2.${n}:5062>`).concat(last),
            expires: 300,
            authorization: authorization(0),
          });
          const second = register(gw.port, {
            callId,
            cseq: cseq++,
            contacts: [`${last};expires=0`],
            authorization: authorization(1),
          });
          socket.send(Buffer.from(first), gw.port, '127.0.0.1');
          socket.send(Buffer.from(second), gw.port, '127.0.0.1');
          for (let i = 0; i < 100 && replies.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
          assert.deepEqual(replies.map(status), [200, 200]);
          assert.deepEqual(
            (await gw.state.registrations.list(aor)).map((b) => b.contact).sort(),
            [1, 2, 3, 4].map((n) => `sip:alice@192.0.2.${n}:5062`),
            'the contact the second REGISTER removed is not bound',
          );
        } finally {
          socket.close();
          await gw.close();
          await cleanup();
        }
      },
    );
  }
});
