import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  crashSignature,
  hasUnparseableTarget,
  isBadViaPort,
  loadCorpus,
  runFuzz,
  type FuzzSummary,
} from '../../scripts/fuzz/engine.js';
import { Prng } from '../../scripts/fuzz/prng.js';
import { sipMessage, type SipTargetInfo } from '../../scripts/fuzz/sip-generator.js';
import type { TransportName } from '../../scripts/fuzz/transports.js';

/**
 * Fuzzing at the socket: seeded mutated whole messages (start lines, Via/Contact/Route hosts and ports,
 * Content-Length against the body, SDP for the relay, byte mutations of the RFC 4475/5118 corpus; bencode for
 * the ng port) sent to a running all-in-one `voxgate` built by `npm run build`, over every transport. After
 * each batch the process must be alive, answer an OPTIONS, serve /healthz 200 and stay under 1 GiB RSS.
 * About 20,000 messages in all; VOXGATE_SOCKET_FUZZ_SEED replays a run, VOXGATE_SOCKET_FUZZ_COUNT scales it
 * (per group). Longer runs: `npm run fuzz:sip -- --count N`.
 */
const SEED = Number(process.env.VOXGATE_SOCKET_FUZZ_SEED ?? 20261203);
const SCALE = Number(process.env.VOXGATE_SOCKET_FUZZ_COUNT ?? 0);

/** Bytes as text, control characters other than CR/LF escaped. */
function printable(bytes: Buffer | undefined): string {
  let text = '';
  for (const byte of bytes ?? []) {
    const printableByte = byte === 0x0a || byte === 0x0d || (byte >= 0x20 && byte !== 0x7f);
    text += printableByte ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return text;
}

function describeFailures(summary: FuzzSummary): string {
  const crashes = summary.crashList.map(
    (c) =>
      `crash after message ${c.index} (${c.transport}, seed ${c.seed}): ${c.signature}\n` +
      `last message (${c.lastMessages.at(-1)?.kind ?? '-'}):\n` +
      `${printable(c.lastMessages.at(-1)?.bytes.subarray(0, 2000))}\n` +
      `stderr:\n${c.death.stderr.slice(-3000)}`,
  );
  const checks = summary.checkFailures.map((f) => `after message ${f.index} (${f.transport}): ${f.problem}`);
  return [...crashes, ...checks].join('\n\n');
}

async function fuzz(transports: TransportName[], count: number, seedOffset: number): Promise<FuzzSummary> {
  const summary = await runFuzz({
    seed: SEED + seedOffset,
    count: SCALE || count,
    transports,
    batchSize: 500,
  });
  assert.equal(summary.crashes, 0, describeFailures(summary));
  assert.deepEqual(summary.checkFailures, [], describeFailures(summary));
  assert.equal(summary.sent + summary.skipped, SCALE || count, 'every message of the run was sent');
  assert.ok(summary.maxRssBytes < 1024 ** 3);
  return summary;
}

describe('socket fuzz: a running voxgate survives mutated whole messages', () => {
  test('SIP over UDP (6,000 messages)', async () => {
    const summary = await fuzz(['udp'], 6000, 0);
    // The fuzz reached the B2BUA and the relay: INVITEs were anchored and offered to the registered callee.
    assert.ok(summary.invitesReachingCallee > 0, 'no fuzzed INVITE got through the relay to the callee');
  });

  test('SIP over TCP and TLS: split frames, slow senders, 1 MiB lines (6,000 messages)', async () => {
    await fuzz(['tcp', 'tls'], 6000, 1);
  });

  test('SIP over WebSocket and secure WebSocket: fragments, binary and oversize frames (4,000 messages)', async () => {
    await fuzz(['ws', 'wss'], 4000, 2);
  });

  test("bencode to the relay's ng port: nesting, huge lengths, truncation, garbage SDP (4,000 messages)", async () => {
    await fuzz(['ng'], 4000, 3);
  });
});

describe('socket fuzz engine', () => {
  test('the messages depend only on the seed', () => {
    const corpus = loadCorpus();
    assert.ok(corpus.length >= 40, 'the RFC 4475/5118 corpus is in test/fixtures/sip');
    const target: SipTargetInfo = {
      via: 'UDP',
      host: '127.0.0.1',
      port: 5060,
      did: '+1555',
      domain: 'x.example',
    };
    const run = (seed: number) => {
      const rng = new Prng(seed);
      return Array.from({ length: 200 }, () => sipMessage(rng, target, corpus).bytes.toString('base64'));
    };
    assert.deepEqual(run(7), run(7));
    assert.notDeepEqual(run(7), run(8));
  });

  test("a crash is named by the error and the first voxgate frame of Node's uncaught-exception output", () => {
    const stderr = [
      'node:internal/errors:541',
      '      throw error;',
      '      ^',
      '',
      'RangeError [ERR_SOCKET_BAD_PORT]: Port should be > 0 and < 65536. Received type number (0).',
      '    at Socket.send (node:dgram:642:12)',
      '    at UdpTransport.send (file:///w/dist/src/sip/transport/udp-transport.js:37:21)',
      '    at send (file:///w/dist/src/sip/transport/sip-endpoint.js:49:175)',
    ].join('\n');
    assert.equal(
      crashSignature(stderr),
      'RangeError [ERR_SOCKET_BAD_PORT]: Port should be > N and < N. Received type number (N). @ ' +
        'sip/transport/udp-transport.js (UdpTransport.send) ← sip/transport/sip-endpoint.js (send)',
    );
    const parserThrow = [
      'SipParseError: malformed host in URI "sip::5060"',
      '    at fail (file:///w/dist/src/sip/uri/parse-uri.js:39:12)',
      '    at parseMessage (file:///w/dist/src/sip/message/parse-message.js:84:50)',
      '    at Object.sendRequest (file:///w/dist/src/sip/transaction/transaction-layer.js:55:29)',
      '    at B2buaCall.hangup (file:///w/dist/src/gateway/b2bua-call.js:952:18) {',
    ].join('\n');
    assert.equal(
      crashSignature('', [
        '{"level":30,"msg":"x"}',
        JSON.stringify({ level: 60, err: { stack: parserThrow } }),
      ]),
      'SipParseError: malformed host in URI "…" @ sip/uri/parse-uri.js (fail) ← ' +
        'sip/transaction/transaction-layer.js (Object.sendRequest) ← gateway/b2bua-call.js (B2buaCall.hangup)',
    );
    assert.match(crashSignature('Killed\n'), /^no stack: Killed/);
  });

  test('the known bad-Via-port filter picks only UDP requests with port 0 or over 65535 and no rport', () => {
    const request = (via: string) => ({
      bytes: Buffer.from(`OPTIONS sip:x SIP/2.0\r\nVia: ${via}\r\n\r\n`),
      kind: '',
    });
    assert.equal(isBadViaPort(request('SIP/2.0/UDP 127.0.0.1:0;branch=z9hG4bKx'), 'udp'), true);
    assert.equal(isBadViaPort(request('SIP/2.0/UDP [::1]:65536;branch=z9hG4bKx'), 'udp'), true);
    assert.equal(isBadViaPort(request('SIP/2.0/UDP 127.0.0.1:0;branch=z9hG4bKx;rport'), 'udp'), false);
    assert.equal(isBadViaPort(request('SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx'), 'udp'), false);
    assert.equal(isBadViaPort(request('SIP/2.0/TCP 127.0.0.1:0;branch=z9hG4bKx'), 'tcp'), false);
  });

  test('the known unparseable-target filter picks dialog-creating requests whose Contact or Record-Route URI the stack refuses', () => {
    const invite = (extra: string, method = 'INVITE') => ({
      bytes: Buffer.from(
        `${method} sip:+1555@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx;rport\r\n` +
          `From: <sip:a@x.example>;tag=1\r\nTo: <sip:+1555@x.example>\r\nCall-ID: c@x\r\nCSeq: 1 ${method}\r\n` +
          `Max-Forwards: 70\r\n${extra}\r\nContent-Length: 0\r\n\r\n`,
      ),
      kind: '',
    });
    assert.equal(hasUnparseableTarget(invite('Contact: *')), true);
    assert.equal(hasUnparseableTarget(invite('Record-Route: <sip::5060>')), true);
    assert.equal(hasUnparseableTarget(invite('Contact: <sip:a@fe80::1%eth0:5060>')), true);
    assert.equal(hasUnparseableTarget(invite('Contact: <sip:a@127.0.0.1:5070>')), false);
    assert.equal(hasUnparseableTarget(invite('Record-Route: <sip:127.0.0.1;lr>')), false);
    assert.equal(hasUnparseableTarget(invite('Contact: *', 'REGISTER')), false);
  });
});
