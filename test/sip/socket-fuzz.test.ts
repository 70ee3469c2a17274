import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  crashSignature,
  hasUnparseableTarget,
  isBadViaPort,
  loadCorpus,
  replay,
  runFuzz,
  type FuzzSummary,
} from '../../scripts/fuzz/engine.js';
import { Prng } from '../../scripts/fuzz/prng.js';
import { sipMessage, type SipTargetInfo } from '../../scripts/fuzz/sip-generator.js';
import { TRANSPORTS, type TransportName } from '../../scripts/fuzz/transports.js';

/**
 * Fuzzing at the socket: seeded mutated whole messages (start lines, Via/Contact/Route hosts and ports,
 * Content-Length against the body, SDP for the relay, byte mutations of the RFC 4475/5118 corpus, requests in
 * the dialogs the gateway sets up, REGISTERs with fuzzed Contacts; bencode for the ng port) sent to a running
 * all-in-one `voxgate` built by `npm run build` (scripts/fuzz), over every transport, in batches. After each
 * batch the process must be alive, answer an OPTIONS, serve /healthz 200 and stay under 1 GiB RSS; after the
 * last, once the calls it left have ended on their timers, too. The run stops at the first crash and reports
 * it with the last message and the process's stderr. VOXGATE_SOCKET_FUZZ_SEED replays a run,
 * VOXGATE_SOCKET_FUZZ_COUNT changes its length; longer runs: `npm run fuzz:sip -- --count N`.
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

describe('socket fuzz: a running voxgate survives mutated whole messages', () => {
  test('20,000 messages rotating over UDP, TCP, TLS, WS, WSS and the ng port', async () => {
    const count = SCALE || 20_000;
    // On a slow or busy machine the run stops after 55 s (a prefix of the same messages), well inside the
    // runner's two minutes per file.
    const summary = await runFuzz({
      seed: SEED,
      count,
      transports: TRANSPORTS,
      batchSize: 500,
      budgetMs: 55_000,
    });
    assert.equal(summary.crashes, 0, describeFailures(summary));
    assert.deepEqual(summary.checkFailures, [], describeFailures(summary));
    if (!summary.budgetExhausted) assert.equal(summary.sent, count, 'every message of the run was sent');
    assert.ok(summary.sent >= Math.min(count, 3000), `only ${summary.sent} messages were sent`);
    assert.ok(summary.maxRssBytes < 1024 ** 3);
    for (const transport of TRANSPORTS)
      assert.ok((summary.perTransport[transport]?.sent ?? 0) > 0, transport);
    // The fuzz got deep: INVITEs through the relay to the callee, dialogs, registrations with fuzzed Contacts.
    assert.ok(summary.invitesReachingCallee > 0, 'no fuzzed INVITE got through the relay to the callee');
    assert.ok(summary.dialogs > 0, 'no fuzzed INVITE set up a dialog');
    assert.ok(summary.registrations > 0, 'no REGISTER with fuzzed Contacts was accepted');
  });
});

/** Crashes the fuzzer found, minimized, one folder each (`npm run fuzz:sip -- --replay <folder>` replays one). */
const REPRODUCERS = join(import.meta.dirname, '..', 'fixtures', 'sip', 'socket-fuzz');

describe('socket fuzz: the crashes it found do not come back', () => {
  for (const name of readdirSync(REPRODUCERS).sort()) {
    test(name, async () => {
      const dir = join(REPRODUCERS, name);
      const report = JSON.parse(readFileSync(join(dir, 'crash.json'), 'utf8')) as {
        messages: { file: string; transport: TransportName; note: string }[];
      };
      assert.ok(report.messages.length > 0);
      const outcome = await replay(
        report.messages.map((m) => ({ transport: m.transport, bytes: readFileSync(join(dir, m.file)) })),
        { settleMs: 20_000 },
      );
      const culprit = outcome.culprit === undefined ? undefined : report.messages[outcome.culprit];
      assert.equal(
        outcome.survived,
        true,
        `died: ${outcome.signature ?? ''}${culprit ? ` after ${culprit.file} (${culprit.note})` : ''}\n` +
          (outcome.death?.stderr.slice(-3000) ?? ''),
      );
    });
  }
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
