import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SipEndpoint } from '../../src/sip/index.js';
import {
  loadFixture,
  startTortureUas,
  statusOf,
  stillAnswers,
  tcpUntilClosed,
  udpExchange,
} from '../helpers/torture-uas.js';

/**
 * RFC 4475 "SIP Torture Test Messages", each sent as a datagram over a real UDP socket to an endpoint running
 * the minimal UAS of support/torture-uas.ts (validateRequest + a registrar-ish REGISTER + 200 for the rest).
 * The sending socket is bound to the message's own Via port on 127.0.0.41, since §18.2.2 sends a response
 * without rport to the received address at the sent-by port. 'none' = no response within a bounded wait, then
 * the endpoint must still answer an OPTIONS.
 *
 * Choices where the RFC allows one:
 * - intmeth/esc02/mismatch02: 501 (unknown method) — esc02's "RE%47IST%45R" is not REGISTER.
 * - trws: 400 (strict Request-Line, RFC 4475 §3.1.2.11 allows either).
 * - baddate: 200 — the malformed Date is ignored (§3.1.2.12 allows it; Date is informational).
 * - mismatch02: 400 — the CSeq method differs from the Request-Line, which the parser finds before the
 *   method is looked at (§3.1.2.17 allows 400).
 * - badbranch: 200 — handled with RFC 2543 matching (§3.2.1).
 * - zeromf: 200 for this OPTIONS (§16.3 step 3 lets an element answer it); as an INVITE it is 483 (below).
 * - sdp01: 406 (Accept without application/sdp for an INVITE; §3.3.15 allows 406 or 400).
 */
const expected: Record<string, number | 'none'> = {
  // §3.1.1 valid messages
  wsinv: 200,
  intmeth: 501,
  esc01: 200,
  escnull: 200,
  esc02: 501,
  lwsdisp: 200,
  longreq: 200,
  dblreq: 401, // its REGISTER is for the protected j.user@example.com: one challenge, the 2nd request ignored
  semiuri: 200,
  transports: 200,
  mpart01: 200,
  unreason: 'none', // a response: handed to onResponse, never answered
  noreason: 'none',
  // §3.1.2 invalid messages
  badinv01: 400,
  clerr: 400,
  scalar02: 400,
  scalarlg: 'none', // a response that does not parse: dropped
  quotbal: 400,
  ltgtruri: 400,
  lwsruri: 400,
  lwsstart: 400,
  trws: 400,
  escruri: 400,
  baddate: 200,
  regbadct: 400,
  badaspec: 400,
  baddn: 400,
  badvers: 505,
  mismatch01: 400,
  mismatch02: 400,
  bigcode: 'none',
  ncl: 400,
  // §3.2 transaction layer
  badbranch: 200,
  // §3.3 application layer
  insuf: 400,
  unkscm: 416,
  novelsc: 416,
  unksm2: 400,
  bext01: 420,
  invut: 415,
  regaut01: 401,
  multi01: 400,
  mcl01: 400,
  bcast: 'none', // a response; its Via's 255.255.255.255 is never a destination
  zeromf: 200,
  cparam01: 200,
  cparam02: 200,
  regescrt: 200,
  sdp01: 406,
  // §3.4 backward compatibility
  inv2543: 200,
};

const FROM = '127.0.0.41';

describe('RFC 4475 torture messages over a real UDP socket', () => {
  let endpoint: SipEndpoint;
  let port: number;
  before(async () => {
    endpoint = await startTortureUas();
    port = endpoint.address().udp!.port;
  });
  after(() => endpoint.close());

  test('every RFC 4475 fixture has an expected outcome', () => {
    const names = readdirSync(join(import.meta.dirname, '..', 'fixtures', 'sip', 'rfc4475'));
    assert.equal(names.length, 49);
    assert.deepEqual(
      names.map((n) => n.replace(/\.dat$/, '')).filter((n) => !(n in expected)),
      [],
    );
  });

  for (const [name, want] of Object.entries(expected)) {
    test(`${name} → ${want}`, async () => {
      // On loopback a response comes within milliseconds; 'none' waits a bounded 300 ms for nothing to come.
      const replies = await udpExchange(
        loadFixture('rfc4475', name),
        FROM,
        port,
        want === 'none' ? 300 : 2000,
      );
      if (want === 'none') {
        assert.deepEqual(replies, []);
        assert.equal(statusOf(await stillAnswers(port)), 200);
      } else {
        assert.equal(replies.length, 1, `exactly one response, got ${replies.length}`);
        assert.equal(statusOf(replies[0]), want, replies[0]!.split('\r\n')[0]);
      }
    });
  }

  test('the 4xx answers carry what §8.2 asks: Allow (501), Unsupported (420), Accept (415)', async () => {
    const [intmeth] = await udpExchange(loadFixture('rfc4475', 'intmeth'), FROM, port, 2000);
    assert.match(intmeth ?? '', /\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER/);
    const [bext] = await udpExchange(loadFixture('rfc4475', 'bext01'), FROM, port, 2000);
    assert.match(bext ?? '', /\r\nUnsupported: nothingSupportsThis, nothingSupportsThisEither\r\n/);
    const [invut] = await udpExchange(loadFixture('rfc4475', 'invut'), FROM, port, 2000);
    assert.match(invut ?? '', /\r\nAccept: application\/sdp/);
  });

  test('cparam01/cparam02/regescrt: the bindings keep contact-params outside and URI params inside <>', async () => {
    const [c1] = await udpExchange(loadFixture('rfc4475', 'cparam01'), FROM, port, 2000);
    assert.match(c1 ?? '', /\r\nContact: <sip:\+19725552222@gw1\.example\.net>;unknownparam\r\n/);
    const [c2] = await udpExchange(loadFixture('rfc4475', 'cparam02'), FROM, port, 2000);
    assert.match(c2 ?? '', /\r\nContact: <sip:\+19725552222@gw1\.example\.net;unknownparam>\r\n/);
    const [r] = await udpExchange(loadFixture('rfc4475', 'regescrt'), FROM, port, 2000);
    assert.match(r ?? '', /\r\nContact: <sip:user@example\.com\?Route=%3Csip:sip\.example\.com%3E>\r\n/);
  });

  test('a stateless 400 copies Via, From, To, Call-ID and CSeq of the bad request (§8.2.6.2)', async () => {
    const [r] = await udpExchange(loadFixture('rfc4475', 'scalar02'), FROM, port, 2000);
    // The Via is copied with the received parameter §18.2.1 asks for, though the request never parsed.
    assert.match(r ?? '', /^SIP\/2\.0 400 /);
    assert.match(
      r ?? '',
      /\r\nVia: SIP\/2\.0\/TCP host129\.example\.com;branch=z9hG4bK342sdfoi3;received=127\.0\.0\.41\r\n/,
    );
    assert.match(r ?? '', /\r\nCall-ID: scalar02\.23o0pd9vanlq3wnrlnewofjas9ui32\r\n/);
  });

  test('zeromf as an INVITE → 483 Too Many Hops (§16.3 step 3)', async () => {
    const invite = loadFixture('rfc4475', 'zeromf')
      .toString('latin1')
      .replace(/^OPTIONS /, 'INVITE ')
      .replace(/CSeq: (\d+) OPTIONS/, 'CSeq: $1 INVITE');
    const [r] = await udpExchange(Buffer.from(invite, 'latin1'), FROM, port, 2000);
    assert.equal(statusOf(r), 483);
  });
});

describe('RFC 4475 messages whose outcome differs over TCP (§18.3 stream framing)', () => {
  let endpoint: SipEndpoint;
  let port: number;
  before(async () => {
    // A short idle timeout, so that "wait for more bytes, then close" (clerr) finishes within the test.
    endpoint = await startTortureUas({ tcpIdleTimeoutMs: 300 });
    port = endpoint.address().tcp!.port;
  });
  after(() => endpoint.close());

  for (const name of ['ncl', 'mcl01']) {
    test(`${name}: the stream cannot be framed → 400, then the connection is closed`, async () => {
      const data = await tcpUntilClosed(port, loadFixture('rfc4475', name));
      assert.equal(statusOf(data), 400);
      assert.equal(data.match(/^SIP\/2\.0 /gm)?.length, 1, 'one response only');
    });
  }

  test('clerr: a Content-Length beyond the bytes sent means "wait for more"; the idle connection is closed unanswered', async () => {
    const data = await tcpUntilClosed(port, loadFixture('rfc4475', 'clerr'));
    assert.equal(data, '');
  });

  test('wsinv over TCP is answered like over UDP (200)', async () => {
    const socket = await import('node:net').then((net) => net.connect(port, '127.0.0.1'));
    const got = await new Promise<string>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('data', (d: Buffer) => resolve(d.toString('latin1')));
      socket.write(loadFixture('rfc4475', 'wsinv'));
    });
    socket.destroy();
    assert.equal(statusOf(got), 200);
  });
});
