// End-to-end calls through the gateway with SIPp (Debian sip-tester) as both phones: SIPp registers the callee,
// a SIPp UAS answers (echoing RTP), a SIPp UAC calls and plays G.711 from /usr/share/sip-tester/g711a.pcap.
// Run without anchoring, with media anchored on voxgate's relay, and on a real RTPengine.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { endedEvent, HARNESS_USERS, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { relaySkip, startRelay, type RunningRelay } from '../helpers/relays.js';
import {
  runSipp,
  sippCalleeArgs,
  sippCallerArgs,
  sippInstalled,
  sippPort,
  sippRegisterArgs,
  startSipp,
} from '../helpers/sipp.js';

const FAST = { t1: 100, t2: 800, t4: 1000 };

/** Registers bob through SIPp on a port, then runs `callee` there and the caller scenario against the gateway. */
async function scenario(
  gw: GatewayHarness,
  callee: string,
  caller: string,
  transport: 'udp' | 'tcp' = 'udp',
): Promise<{ callee: { code: number | null; logs: string }; caller: { code: number | null; logs: string } }> {
  // SIPp's -t t1: one TCP connection per SIPp instance (u1 is its default, UDP).
  const t = transport === 'tcp' ? ['-t', 't1'] : [];
  const bobPort = await sippPort();
  const reg = await runSipp('register-digest.xml', `127.0.0.1:${gw.port}`, [
    ...t,
    ...sippRegisterArgs('bob', HARNESS_USERS.bob, bobPort),
  ]);
  assert.equal(reg.code, 0, `bob did not register\n${reg.logs}`);
  const uas = startSipp(callee, `127.0.0.1:${gw.port}`, [...t, ...(await sippCalleeArgs(bobPort))]);
  // SIPp needs a moment to bind before the gateway forwards the INVITE to it.
  await new Promise((r) => setTimeout(r, 300));
  const uac = await runSipp(caller, `127.0.0.1:${gw.port}`, [
    ...t,
    ...(await sippCallerArgs(HARNESS_USERS.alice)),
  ]);
  const to = setTimeout(() => uas.kill(), 10_000);
  const code = await uas.exited;
  clearTimeout(to);
  await gw.state.registrations.removeAll('sip:bob@acme.example');
  return { callee: { code, logs: uas.logs() }, caller: uac };
}

const sipp = sippInstalled();

for (const anchoring of ['none', 'voxgate', 'rtpengine'] as const) {
  const skip = !sipp ? 'sipp not installed' : anchoring === 'none' ? false : relaySkip(anchoring);
  describe(`calls between SIPp phones through the gateway, media anchoring: ${anchoring}`, { skip }, () => {
    let gw: GatewayHarness;
    let engine: RunningRelay | undefined;
    before(async () => {
      if (anchoring !== 'none') engine = await startRelay(anchoring);
      gw = await startGateway({
        digestAlgorithms: ['MD5', 'SHA-256'],
        timers: FAST,
        relays: engine ? [{ host: '127.0.0.1', port: engine.ngPort }] : [],
      });
    });
    after(async () => {
      await gw?.close();
      await engine?.stop();
    });

    test('answered call with RTP, hold and resume by re-INVITE, BYE from the caller', async () => {
      const run = await scenario(gw, 'uas-answer.xml', 'uac-call.xml');
      assert.equal(run.caller.code, 0, `caller failed\n${run.caller.logs}`);
      assert.equal(run.callee.code, 0, `callee failed\n${run.callee.logs}`);
      const ended = await endedEvent(gw, `events-${anchoring}`);
      assert.equal(ended.disposition, 'answered');
      assert.equal(ended.hangupBy, 'caller');
      if (anchoring !== 'none') {
        // The caller played the pcap to the relay; the callee echoed it back through the relay.
        assert.ok((ended.media?.callerToCallee?.packets ?? 0) > 20, JSON.stringify(ended.media));
        assert.ok((ended.media?.calleeToCaller?.packets ?? 0) > 20, JSON.stringify(ended.media));
      }
    });

    test('busy callee: 486 reaches the caller', async () => {
      const run = await scenario(gw, 'uas-busy.xml', 'uac-call.xml');
      assert.equal(run.caller.code, 0, `caller failed\n${run.caller.logs}`);
      assert.equal(run.callee.code, 0, `callee failed\n${run.callee.logs}`);
      assert.equal((await endedEvent(gw, `events-${anchoring}`)).disposition, 'busy');
    });

    test('the caller cancels while the callee rings', async () => {
      const run = await scenario(gw, 'uas-ring-cancel.xml', 'uac-cancel.xml');
      assert.equal(run.caller.code, 0, `caller failed\n${run.caller.logs}`);
      assert.equal(run.callee.code, 0, `callee failed\n${run.callee.logs}`);
      assert.equal((await endedEvent(gw, `events-${anchoring}`)).disposition, 'cancelled');
    });

    test('reliable 183 (RFC 3262): PRACK end to end, then answered', async () => {
      const run = await scenario(gw, 'uas-prack.xml', 'uac-prack.xml');
      assert.equal(run.caller.code, 0, `caller failed\n${run.caller.logs}`);
      assert.equal(run.callee.code, 0, `callee failed\n${run.callee.logs}`);
      assert.equal((await endedEvent(gw, `events-${anchoring}`)).disposition, 'answered');
    });
  });
}

describe('SIPp phones over TCP, and a call nobody answers', { skip: !sipp && 'sipp not installed' }, () => {
  let gw: GatewayHarness;
  before(async () => {
    gw = await startGateway({ digestAlgorithms: ['MD5', 'SHA-256'], timers: FAST, ringTimeoutMs: 2000 });
  });
  after(() => gw?.close());

  test('over TCP: register, call with hold and resume, BYE', async () => {
    const run = await scenario(gw, 'uas-answer.xml', 'uac-call.xml', 'tcp');
    assert.equal(run.caller.code, 0, `caller failed\n${run.caller.logs}`);
    assert.equal(run.callee.code, 0, `callee failed\n${run.callee.logs}`);
    const ended = await endedEvent(gw, 'events-extra');
    assert.equal(ended.disposition, 'answered');
  });

  test('no answer: the ring timeout cancels the callee and gives the caller 480', async () => {
    const run = await scenario(gw, 'uas-ring-cancel.xml', 'uac-no-answer.xml');
    assert.equal(run.caller.code, 0, `caller failed\n${run.caller.logs}`);
    assert.equal(run.callee.code, 0, `callee failed\n${run.callee.logs}`);
    assert.equal((await endedEvent(gw, 'events-extra')).disposition, 'no-answer');
  });
});
