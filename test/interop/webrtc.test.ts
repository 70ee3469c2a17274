// The interop test of issue #15's browser: Debian's Chromium, headless, as a WebRTC softphone (SIP.js over
// a plain WebSocket; UDP/TLS/RTP/SAVPF with ICE, DTLS-SRTP and rtcp-mux) registers as alice, calls the far end
// (a plain RTP/AVP phone on UDP, lib/far-end.ts) and is called by it. In both directions each side must hear
// the other's tone (the far end in its decoded RTP, the browser with a Web Audio analyser on the remote track)
// and each side's media must come from the server's relay ports. On the reference (Kamailio with websocket +
// RTPengine with WebRTC flags, fixtures/kamailio-reference.cfg), on voxgate on its defaults (SIP over
// WebSocket on 5066), and on 'kamailio+voxgate-relay': the reference's Kamailio and configuration, its rtpengine
// module (with the same WebRTC flags) driving voxgate's media relay (`voxgate --target=media-relay`) instead
// of RTPengine — the ng commands Kamailio sent and the relay's replies are in that server's log. The driver is test/interop/clients/chromium.ts; the rule is the suite's: a check the
// reference passes, voxgate passes. A check that fails on the browser's side says what the browser saw: the
// server's SDP and the RTCPeerConnection's ICE, DTLS and connection states.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Chromium, type BrowserCall, describeStates, webSocketUrl } from './clients/chromium.js';
import { CLIENT_TONE_HZ, FAR_END_TONE_HZ, writeToneWav } from './lib/audio.js';
import { FarEnd, type FarEndCall } from './lib/far-end.js';
import { recordResults } from './lib/results.js';
import {
  assertVoxgateMatchesReference,
  checkAudio,
  runCheck,
  sleep,
  TALK_MS,
  type Recorder,
} from './lib/scenario.js';
import { servers } from './lib/servers.js';
import { interopWorkDir } from './lib/work-dir.js';
import type { CheckResult, SipServer, Transport } from './lib/types.js';

const TRANSPORT: Transport = 'ws';

test('Chromium (WebRTC, SIP.js over WebSocket) and a plain RTP/AVP far end, on the reference, voxgate and kamailio+voxgate-relay', async () => {
  const results: CheckResult[] = [];
  const scratch = interopWorkDir('interop-webrtc');
  const toneFile = join(scratch.path, 'client-tone.wav');
  writeToneWav(toneFile, CLIENT_TONE_HZ, 120);
  const named = new Chromium();
  let identity = { name: named.name, version: '', stack: named.stack };
  const samples: { [transport: string]: string } = {};
  const serverNames: { [server: string]: string } = {};
  const observations: string[] = [];

  for (const factory of await servers({ kamailioOnVoxgateRelay: true })) {
    const server = await factory.start();
    serverNames[server.name] = server.description;
    samples[TRANSPORT] = configSample(server);
    const record: Recorder = (check, outcome, detail) =>
      results.push({
        client: identity.name,
        server: server.name,
        check,
        outcome,
        ...(detail ? { detail } : {}),
      });
    const observe = (text: string) => observations.push(`${server.name}, ${TRANSPORT}: ${text}`);
    const far = await FarEnd.open(server, server.account('bob'), FAR_END_TONE_HZ);
    const client = new Chromium();
    const log = () => client.logTail();
    const attempt = (check: string, body: () => Promise<void>) => runCheck(record, server, log, check, body);
    try {
      await far.register();
      const clientDir = join(scratch.path, server.name);
      mkdirSync(clientDir, { recursive: true });
      const account = server.account('alice');
      const registered = await attempt(`register ${TRANSPORT}`, () =>
        client.start({ server, transport: TRANSPORT, account, workDir: clientDir, toneFile }),
      );
      identity = { name: client.name, version: client.version, stack: client.stack };
      if (!registered) continue;

      // Call out: the browser (UDP/TLS/RTP/SAVPF) calls the far end (RTP/AVP).
      const outCall: { call?: FarEndCall } = {};
      const out = await attempt(`call out ${TRANSPORT}`, async () => {
        const incoming = far.nextCall(20_000);
        incoming.catch(() => undefined);
        try {
          await client.call(`sip:bob@${server.domain}`);
        } catch (err) {
          const seen = await client.lastCall().catch(() => undefined);
          const what = seen?.serverSdp
            ? `the SDP answer the browser got:\n${seen.serverSdp}`
            : 'the browser got no SDP answer';
          throw new Error(`${(err as Error).message}\n${what}`, { cause: err });
        }
        outCall.call = await incoming;
      });
      if (out && outCall.call) {
        const call = outCall.call;
        await sleep(TALK_MS);
        const browserCall = await client.lastCall();
        if (browserCall) observeCall(observe, 'call out', browserCall, call);
        checkAudio(record, `call out ${TRANSPORT}: audio at far end`, server, call);
        await checkBrowserAudio(record, `call out ${TRANSPORT}: audio at browser`, server, client);
        await attempt(`hangup by browser ${TRANSPORT}`, async () => {
          await client.hangup();
          await call.waitEnded();
        });
      } else {
        const browserCall = await client.lastCall().catch(() => undefined);
        if (browserCall) observeCall(observe, 'call out (failed)', browserCall, outCall.call);
      }

      // Call in: the far end (RTP/AVP) calls the browser, which answers automatically.
      const inCall: { call?: FarEndCall } = {};
      await attempt(`call in ${TRANSPORT}`, async () => {
        const answered = client.waitAnswered();
        answered.catch(() => undefined);
        try {
          inCall.call = await far.call(account.username);
          await answered;
        } catch (err) {
          const seen = await client.lastCall().catch(() => undefined);
          const what =
            seen?.direction === 'in'
              ? `the browser was called (${seen.endReason ?? seen.state}); the INVITE's SDP:\n` +
                (seen.serverSdp ?? '(none)')
              : 'no INVITE reached the browser';
          throw new Error(`${(err as Error).message}\n${what}`, { cause: err });
        }
      });
      if (inCall.call && !inCall.call.ended) {
        const call = inCall.call;
        await sleep(TALK_MS);
        const browserCall = await client.lastCall();
        if (browserCall) observeCall(observe, 'call in', browserCall, call);
        checkAudio(record, `call in ${TRANSPORT}: audio at far end`, server, call);
        await checkBrowserAudio(record, `call in ${TRANSPORT}: audio at browser`, server, client);
        await attempt(`hangup by far end ${TRANSPORT}`, async () => {
          await call.bye();
          await client.waitEnded();
        });
      } else {
        const browserCall = await client.lastCall().catch(() => undefined);
        if (browserCall?.direction === 'in')
          observeCall(observe, 'call in (failed)', browserCall, inCall.call);
      }
    } finally {
      await client.stop().catch(() => undefined);
      await far.unregister();
      far.close();
      await server.stop();
    }
  }

  recordResults(
    {
      ...identity,
      transports: [TRANSPORT],
      configSamples: samples,
      quirks: [
        'Chromium needs --use-fake-ui-for-media-stream (else getUserMedia is denied), ' +
          '--use-fake-device-for-media-stream with --use-file-for-fake-audio-capture=<wav> (the tone as its ' +
          'microphone) and --allow-loopback-in-peer-connection (else no ICE candidate on 127.0.0.1).',
        'SIP.js opens the WebSocket with subprotocol sip and puts a random `.invalid` host in Via and ' +
          'Contact ' +
          '(`;transport=ws`): requests to the browser must go back over the WebSocket it registered on.',
        "Chromium's offer is UDP/TLS/RTP/SAVPF with Opus, G.722, PCMU, PCMA …, a=setup:actpass, a sha-256 " +
          'fingerprint, ICE host candidates only (iceServers: []), a=rtcp-mux and a=group:BUNDLE; it needs ' +
          'rtcp-mux and ICE in the answer, and is the DTLS client when answered a=setup:passive.',
        "The page judges the far end's tone with a Web Audio AnalyserNode on the remote track (the track " +
          'also plays in a muted <audio> element: Chromium feeds Web Audio from a remote track only then).',
      ],
      servers: serverNames,
      observations,
    },
    results,
  );
  scratch.remove();
  assertVoxgateMatchesReference(results, ['kamailio+voxgate-relay']);
});

/**
 * The browser heard the far end's tone, over media whose remote ICE candidate (the browser's selected pair)
 * is in the relay's port range.
 */
async function checkBrowserAudio(
  record: Recorder,
  check: string,
  server: SipServer,
  client: Chromium,
): Promise<void> {
  try {
    const heard = await client.heardTone(FAR_END_TONE_HZ);
    const call = await client.lastCall();
    const answer = call?.remoteSdp
      ? `\n--- SDP the browser got from ${server.name} ---\n${call.remoteSdp}`
      : '';
    if (!heard.heard) return record(check, 'failed', `${heard.detail}${answer}`);
    const [low, high] = server.rtpPorts;
    const foreign = heard.sourcePorts.filter((p) => p < low || p > high);
    if (heard.sourcePorts.length === 0)
      return record(
        check,
        'failed',
        `the tone was heard but the browser had no selected ICE pair: ${heard.detail}`,
      );
    if (foreign.length > 0)
      return record(
        check,
        'failed',
        `media from ports outside the relay's range ${low}-${high}: ${foreign.join(', ')}; ${heard.detail}`,
      );
    record(check, 'passed');
  } catch (err) {
    record(check, 'failed', `${(err as Error).message}\n--- browser log ---\n${client.logTail()}`);
  }
}

/** What the browser and the far end saw of one call, for docs/interop.md. */
function observeCall(
  observe: (text: string) => void,
  what: string,
  call: BrowserCall,
  far: FarEndCall | undefined,
): void {
  if (call.endReason && !call.establishedAt) observe(`${what}: the browser's call ended: ${call.endReason}`);
  if (call.serverSdp && !call.remoteSdp)
    observe(
      `${what}: Chromium could not apply the ${call.direction === 'out' ? 'answer' : 'offer'} ` +
        describeSdp(call.serverSdp),
    );
  const mine = call.direction === 'out' ? 'offered' : 'answered';
  const theirs = call.direction === 'out' ? 'was answered' : 'was offered';
  if (call.localSdp) observe(`${what}: Chromium ${mine} ${describeSdp(call.localSdp)}`);
  if (call.remoteSdp) observe(`${what}: Chromium ${theirs} ${describeSdp(call.remoteSdp)}`);
  const farSdp = far?.offers[0]?.toString('latin1');
  if (farSdp && call.direction === 'out') observe(`${what}: the far end was offered ${describeSdp(farSdp)}`);
  observe(`${what}: RTCPeerConnection ${describeStates(call.states)}`);
}

/**
 * "UDP/TLS/RTP/SAVPF PCMU …; ICE (2 candidates), fingerprint sha-256, setup:passive, rtcp-mux, mid, no BUNDLE"
 * — the WebRTC attributes of an SDP, for the report.
 */
function describeSdp(sdp: string): string {
  const m = /^m=audio \d+ (\S+) ([\d ]+)/m.exec(sdp);
  const rtpmap = new Map([...sdp.matchAll(/^a=rtpmap:(\d+) ([^/\s]+)/gm)].map((x) => [x[1]!, x[2]!]));
  const names = (m?.[2]?.trim().split(/\s+/) ?? []).map(
    (pt) => rtpmap.get(pt) ?? (pt === '0' ? 'PCMU' : pt === '8' ? 'PCMA' : pt),
  );
  const shown = names.length > 5 ? [...names.slice(0, 5), '…'] : names;
  const candidates = [...sdp.matchAll(/^a=candidate:/gm)].length;
  const has = (re: RegExp) => re.test(sdp);
  const parts = [
    candidates > 0 || has(/^a=ice-ufrag:/m)
      ? `ICE (${candidates} candidate${candidates === 1 ? '' : 's'})`
      : 'no ICE',
    has(/^a=fingerprint:sha-256 /m)
      ? 'fingerprint sha-256'
      : has(/^a=fingerprint:/m)
        ? 'fingerprint'
        : 'no fingerprint',
    /^a=setup:(\S+)/m.exec(sdp)?.[0].slice(2) ?? 'no setup',
    has(/^a=crypto:/m) ? 'a=crypto' : undefined,
    has(/^a=rtcp-mux/m) ? 'rtcp-mux' : 'no rtcp-mux',
    has(/^a=mid:/m) ? 'mid' : 'no mid',
    has(/^a=group:BUNDLE/m) ? 'BUNDLE' : 'no BUNDLE',
  ].filter(Boolean);
  return `${m?.[1] ?? 'no m=audio'} ${shown.join(' ')}; ${parts.join(', ')}`;
}

/** The browser's working setup as a user would write it: the page's SIP.js configuration. */
function configSample(server: SipServer): string {
  return [
    `new UserAgent({`,
    `  uri: UserAgent.makeURI('sip:alice@${server.domain}'),`,
    `  authorizationUsername: 'alice', authorizationPassword: '…',`,
    `  transportOptions: { server: '${webSocketUrl(server)}' },`,
    `  sessionDescriptionHandlerFactoryOptions: { peerConnectionConfiguration: { iceServers: [] } },`,
    `});`,
    `// calls: sessionDescriptionHandlerOptions.constraints =`,
    `//   { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },`,
    `//     video: false }`,
    `// chromium --headless --use-fake-ui-for-media-stream --use-fake-device-for-media-stream \\`,
    `//   --use-file-for-fake-audio-capture=tone.wav --allow-loopback-in-peer-connection`,
  ].join('\n');
}
