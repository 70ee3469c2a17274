// The interop test of issue #15's DTLS-SRTP phone: baresip 1.0 (Debian baresip-core, libre) with
// `mediaenc=dtls_srtp` (module dtls_srtp.so: RFC 5763/5764, UDP/TLS/RTP/SAVPF with its self-signed
// certificate's fingerprint) registered over TLS calls the far end, a plain RTP/AVP phone on UDP, and is called by it; each side must
// hear the other's tone, from the relay's ports. On voxgate the account alice is provisioned with
// `mediaEncryption: 'dtls'` (the relay ends DTLS-SRTP for it: offered UDP/TLS/RTP/SAVPF with the relay's
// fingerprint, a=setup:actpass, ICE-lite and rtcp-mux as callee, DTLS-SRTP required of it as caller); on the
// reference, Kamailio + RTPengine with the flags its configuration gives a call between phones
// (`replace-origin replace-session-connection ICE=remove`). When a call stays silent, its check says what was
// seen: the SDP both ways from baresip's SIP trace, baresip's dtls_srtp lines and voxgate's DTLS counters
// (`voxgate_media_dtls_connected_total`, `voxgate_media_dtls_failed_total{reason}` from /metrics). The
// driver is test/interop/clients/baresip.ts; the rule is the suite's: a check the reference passes, voxgate
// passes.
import { test } from 'node:test';
import {
  cseqMethod,
  lastSdp,
  sentByBaresip,
  type Baresip,
  type BaresipMediaEnc,
  type BaresipTracedMessage,
} from './clients/baresip.js';
import { runBaresipMediaEnc } from './lib/baresip-media-enc.js';
import type { FarEndCall } from './lib/far-end.js';
import { checkAudio, checkRecording, sleep, TALK_MS, type Recorder } from './lib/scenario.js';
import type { SipServer, Transport } from './lib/types.js';

const CLIENT = 'baresip (DTLS-SRTP, dtls_srtp)';
const MEDIAENC: BaresipMediaEnc = 'dtls_srtp';
const TRANSPORT: Transport = 'tls';

test('baresip 1.0 with DTLS-SRTP (mediaenc=dtls_srtp) over TLS and a plain RTP/AVP far end, on the reference and voxgate', async () => {
  await runBaresipMediaEnc({
    name: CLIENT,
    mediaenc: MEDIAENC,
    transport: TRANSPORT,
    workDir: 'interop-dtls',
    quirks: [
      '`mediaenc=dtls_srtp` (module dtls_srtp.so) makes a self-signed certificate at start and offers ' +
        'UDP/TLS/RTP/SAVPF with its `a=fingerprint:SHA-256` (hash name in capitals) and `a=setup:actpass`, no ' +
        'ICE (the ice module is not loaded) and no rtcp-mux; answering, it takes `a=setup:active` (it is the ' +
        'DTLS client) and leaves rtcp-mux out even when offered. It does a DTLS handshake per component (RTP ' +
        'and RTCP) and logs "dtls_srtp: ---> DTLS-SRTP complete" for each.',
      "On voxgate the account alice has `mediaEncryption: 'dtls'` (PATCH of the SIP user through the API).",
      'The far end of this test answers RTP/AVP whatever profile it is offered (a real plain phone refuses ' +
        'UDP/TLS/RTP/SAVP): the check "the far end is offered RTP/AVP …" says what such a phone would get.',
    ],
    provision: async ({ server, account, record, observe }) => {
      // voxgate: alice must do DTLS-SRTP (the server's account setting; the reference has none).
      if (server.updateAccount) {
        const refused = await server.updateAccount(account.username, { mediaEncryption: 'dtls' }).then(
          () => undefined,
          (err: unknown) => (err as Error).message,
        );
        // A check only when it fails: the reference has no such setting, so no row would compare.
        if (refused)
          record('alice provisioned with mediaEncryption dtls', 'failed', `the API refused it: ${refused}`);
        else observe("alice has mediaEncryption 'dtls' (PATCH of the SIP user accepted)");
      }
    },
    calls: async ({ server, client, far, account, record, observe, attempt }) => {
      // Call out: baresip (UDP/TLS/RTP/SAVPF, DTLS-SRTP) calls the far end (RTP/AVP).
      const outCall: { call?: FarEndCall } = {};
      const traced = client.sipTrace().length;
      const logged = dtlsLines(client).length;
      const metricsBefore = await dtlsMetrics(server);
      const out = await attempt(`call out ${TRANSPORT}`, async () => {
        const incoming = far.nextCall(20_000);
        incoming.catch(() => undefined);
        await client.call(`sip:bob@${server.domain}`);
        outCall.call = await incoming;
      });
      const trace = () => client.sipTrace().slice(traced);
      const offer = () => lastSdp(trace(), (m) => sent(m, server) && m.startLine.startsWith('INVITE '));
      const answer = () =>
        lastSdp(
          trace(),
          (m) => !sent(m, server) && /^SIP\/2\.0 2\d\d /.test(m.startLine) && cseqMethod(m) === 'INVITE',
        );
      if (out && outCall.call) {
        const call = outCall.call;
        await sleep(TALK_MS);
        const toFarEnd = call.offers[0]?.toString('latin1');
        const sdps = { baresipOffered: offer(), baresipAnswered: answer(), farEndOffered: toFarEnd };
        if (sdps.baresipOffered) observe(`call out: baresip offered ${describeSdp(sdps.baresipOffered)}`);
        if (toFarEnd) observe(`call out: the far end (plain RTP/AVP) was offered ${describeSdp(toFarEnd)}`);
        if (sdps.baresipAnswered)
          observe(`call out: baresip was answered ${describeSdp(sdps.baresipAnswered)}`);
        const evidence = async () =>
          callEvidence(server, client, logged, metricsBefore, [
            ['baresip offered', sdps.baresipOffered],
            ['the far end was offered', toFarEnd],
            ['baresip was answered', sdps.baresipAnswered],
          ]);

        const plain = toFarEnd ? plainOfferProblems(toFarEnd) : ['no offer reached the far end'];
        record(
          `call out ${TRANSPORT}: the far end is offered RTP/AVP without fingerprint or a=crypto`,
          plain.length === 0 ? 'passed' : 'failed',
          plain.length === 0
            ? undefined
            : `${plain.join('; ')} (a plain phone refuses these; this far end answers RTP/AVP to any profile)\n${toFarEnd ?? ''}`,
        );
        const problems = sdps.baresipAnswered
          ? dtlsSdpProblems(sdps.baresipAnswered, 'answer')
          : ["no 2xx with SDP to baresip's INVITE in its SIP trace"];
        record(
          `call out ${TRANSPORT}: baresip is answered DTLS-SRTP (UDP/TLS/RTP/SAVP(F), fingerprint, setup)`,
          problems.length === 0 ? 'passed' : 'failed',
          problems.length === 0 ? undefined : `${problems.join('; ')}\n${sdps.baresipAnswered ?? ''}`,
        );
        await checkDtlsComplete(
          record,
          `call out ${TRANSPORT}: DTLS-SRTP complete at baresip`,
          client,
          logged,
          evidence,
        );
        await withEvidence(record, evidence, (r) =>
          checkAudio(r, `call out ${TRANSPORT}: audio at far end`, server, call),
        );
        observe(`call out: ${await metricsDelta(server, metricsBefore)}`);
        await attempt(`hangup by client ${TRANSPORT}`, async () => {
          await client.hangup();
          await call.waitEnded();
        });
        await withEvidenceAsync(record, evidence, (r) =>
          checkRecording(r, `call out ${TRANSPORT}: audio at client`, client),
        );
      } else {
        const offered = offer();
        if (offered) observe(`call out (failed): baresip offered ${describeSdp(offered)}`);
      }

      // Call in: the far end (RTP/AVP) calls baresip, which answers automatically.
      const inCall: { call?: FarEndCall } = {};
      const tracedIn = client.sipTrace().length;
      const loggedIn = dtlsLines(client).length;
      const metricsBeforeIn = await dtlsMetrics(server);
      const answered = client.waitAnswered();
      answered.catch(() => undefined);
      const traceIn = () => client.sipTrace().slice(tracedIn);
      const offeredIn = () =>
        lastSdp(traceIn(), (m) => !sent(m, server) && m.startLine.startsWith('INVITE '));
      const answerIn = () =>
        traceIn().find(
          (m) => sent(m, server) && /^SIP\/2\.0 [2-6]\d\d /.test(m.startLine) && cseqMethod(m) === 'INVITE',
        );
      await attempt(`call in ${TRANSPORT}`, async () => {
        try {
          inCall.call = await far.call(account.username);
          await answered;
        } catch (err) {
          const offered = offeredIn();
          const refusal = answerIn();
          throw new Error(
            `${offered ? `baresip was offered ${describeSdp(offered)}` : 'baresip received no INVITE with SDP'}` +
              `${refusal ? ` and answered ${refusal.startLine.slice(8)}` : ''}\n${offered ?? ''}\n${(err as Error).message}`,
            { cause: err },
          );
        }
      });
      const offered = offeredIn();
      const reply = answerIn();
      if (offered) observe(`call in: baresip was offered ${describeSdp(offered)}`);
      if (reply)
        observe(
          `call in: baresip answered ${reply.startLine.slice(8)}${reply.body ? ` ${describeSdp(reply.body)}` : ''}`,
        );
      if (offered) {
        const problems = dtlsSdpProblems(offered, 'offer');
        record(
          `call in ${TRANSPORT}: baresip is offered DTLS-SRTP (UDP/TLS/RTP/SAVP(F), fingerprint, setup:actpass)`,
          problems.length === 0 ? 'passed' : 'failed',
          problems.length === 0 ? undefined : `${problems.join('; ')}\n${offered}`,
        );
      }
      if (inCall.call && !inCall.call.ended) {
        const call = inCall.call;
        await sleep(TALK_MS);
        const evidence = async () =>
          callEvidence(server, client, loggedIn, metricsBeforeIn, [
            ['the far end offered', call.offers[0]?.toString('latin1')],
            ['baresip was offered', offered],
            ['baresip answered', reply?.body],
          ]);
        await checkDtlsComplete(
          record,
          `call in ${TRANSPORT}: DTLS-SRTP complete at baresip`,
          client,
          loggedIn,
          evidence,
        );
        await withEvidence(record, evidence, (r) =>
          checkAudio(r, `call in ${TRANSPORT}: audio at far end`, server, call),
        );
        observe(`call in: ${await metricsDelta(server, metricsBeforeIn)}`);
        await attempt(`hangup by far end ${TRANSPORT}`, async () => {
          await call.bye();
          await client.waitEnded();
        });
        await withEvidenceAsync(record, evidence, (r) =>
          checkRecording(r, `call in ${TRANSPORT}: audio at client`, client),
        );
      }
    },
  });
});

function sent(m: BaresipTracedMessage, server: SipServer): boolean {
  return sentByBaresip(m, server, TRANSPORT);
}

/** baresip's log lines about DTLS-SRTP (its dtls_srtp module, SRTP errors, the secure-call event). */
function dtlsLines(client: Baresip): string[] {
  return client
    .logTail(5000)
    .split('\n')
    .filter((l) => /dtls|srtp|secure/i.test(l));
}

/** The handshake completed at baresip for this call ("dtls_srtp: ---> DTLS-SRTP complete"). */
async function checkDtlsComplete(
  record: Recorder,
  check: string,
  client: Baresip,
  from: number,
  evidence: () => Promise<string>,
): Promise<void> {
  const lines = dtlsLines(client).slice(from);
  if (lines.some((l) => l.includes('DTLS-SRTP complete'))) return record(check, 'passed');
  record(check, 'failed', `baresip never logged "DTLS-SRTP complete"\n${await evidence()}`);
}

/** Runs a check; when it fails, adds the call's evidence to its detail. */
async function withEvidence(
  record: Recorder,
  evidence: () => Promise<string>,
  check: (r: Recorder) => void,
): Promise<void> {
  let failed: Parameters<Recorder> | undefined;
  check((name, outcome, detail) => {
    if (outcome === 'failed') failed = [name, outcome, detail];
    else record(name, outcome, detail);
  });
  if (failed) record(failed[0], 'failed', `${failed[2] ?? ''}\n${await evidence()}`);
}

async function withEvidenceAsync(
  record: Recorder,
  evidence: () => Promise<string>,
  check: (r: Recorder) => Promise<void>,
): Promise<void> {
  let failed: Parameters<Recorder> | undefined;
  await check((name, outcome, detail) => {
    if (outcome === 'failed') failed = [name, outcome, detail];
    else record(name, outcome, detail);
  });
  if (failed) record(failed[0], 'failed', `${failed[2] ?? ''}\n${await evidence()}`);
}

/** What was seen of a call: its SDPs, baresip's DTLS lines since it began, voxgate's DTLS counters. */
async function callEvidence(
  server: SipServer,
  client: Baresip,
  from: number,
  metricsBefore: Map<string, number> | undefined,
  sdps: readonly (readonly [string, string | undefined])[],
): Promise<string> {
  const parts = sdps.map(([what, sdp]) => `--- ${what} ---\n${sdp ? sdp.trimEnd() : '(none)'}`);
  parts.push(
    `--- baresip's DTLS/SRTP log lines ---\n${dtlsLines(client).slice(from).join('\n') || '(none)'}`,
  );
  if (server.metrics)
    parts.push(`--- ${server.name} /metrics ---\n${await metricsDelta(server, metricsBefore)}`);
  return parts.join('\n');
}

/** voxgate's DTLS counters (`voxgate_media_dtls_*` samples by series), or undefined where there is no /metrics. */
async function dtlsMetrics(server: SipServer): Promise<Map<string, number> | undefined> {
  if (!server.metrics) return undefined;
  const text = await server.metrics().catch(() => '');
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(voxgate_media_dtls_\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

/** "voxgate_media_dtls_connected_total +2, voxgate_media_dtls_failed_total{reason="timeout"} +1" since `before`. */
async function metricsDelta(server: SipServer, before: Map<string, number> | undefined): Promise<string> {
  const after = await dtlsMetrics(server);
  if (!after) return `${server.name} has no /metrics`;
  const changes = [...after]
    .map(([series, value]) => [series, value - (before?.get(series) ?? 0)] as const)
    .filter(([, delta]) => delta !== 0)
    .map(([series, delta]) => `${series} +${delta}`);
  return changes.length > 0
    ? `voxgate's DTLS counters during the call: ${changes.join(', ')}`
    : "voxgate's DTLS counters did not change during the call (voxgate_media_dtls_connected_total and _failed_total)";
}

function profileOf(sdp: string): string | undefined {
  return /^m=audio \d+ (\S+)/m.exec(sdp)?.[1];
}

/** "UDP/TLS/RTP/SAVP; fingerprint sha-256, setup:actpass, no ICE, no rtcp-mux" for the report. */
function describeSdp(sdp: string): string {
  const fingerprint = /^a=fingerprint:(\S+)/m.exec(sdp)?.[1];
  const candidates = [...sdp.matchAll(/^a=candidate:/gm)].length;
  const crypto = [...sdp.matchAll(/^a=crypto:/gm)].length;
  return [
    `${profileOf(sdp) ?? 'no m=audio'};`,
    [
      fingerprint ? `fingerprint ${fingerprint}` : 'no fingerprint',
      /^a=setup:(\S+)/m.exec(sdp)?.[0].slice(2) ?? 'no setup',
      /^a=ice-lite/m.test(sdp)
        ? `ICE-lite (${candidates} candidate${candidates === 1 ? '' : 's'})`
        : /^a=ice-ufrag:/m.test(sdp)
          ? `ICE (${candidates} candidate${candidates === 1 ? '' : 's'})`
          : 'no ICE',
      /^a=rtcp-mux/m.test(sdp) ? 'rtcp-mux' : 'no rtcp-mux',
      crypto > 0 ? `${crypto} a=crypto` : undefined,
    ]
      .filter(Boolean)
      .join(', '),
  ].join(' ');
}

/** What keeps the far end's offer from being one a plain RTP/AVP phone takes. */
function plainOfferProblems(sdp: string): string[] {
  const problems: string[] = [];
  const profile = profileOf(sdp);
  if (profile !== 'RTP/AVP') problems.push(`offered profile ${profile ?? '(no m=audio)'}`);
  if (/^a=fingerprint:/m.test(sdp)) problems.push('a=fingerprint');
  if (/^a=setup:/m.test(sdp)) problems.push('a=setup');
  if (/^a=crypto:/m.test(sdp)) problems.push('a=crypto');
  return problems;
}

/**
 * What keeps an SDP to baresip from being DTLS-SRTP it can do (RFC 5763): a UDP/TLS/RTP/SAVP(F) profile, a
 * fingerprint, and a=setup — actpass in an offer, active or passive in an answer.
 */
function dtlsSdpProblems(sdp: string, kind: 'offer' | 'answer'): string[] {
  const problems: string[] = [];
  const profile = profileOf(sdp);
  if (!/^UDP\/TLS\/RTP\/SAVPF?$/.test(profile ?? '')) problems.push(`profile ${profile ?? '(no m=audio)'}`);
  if (!/^a=fingerprint:\S+ [0-9A-Fa-f:]+/m.test(sdp)) problems.push('no a=fingerprint');
  const setup = /^a=setup:(\S+)/m.exec(sdp)?.[1];
  const wanted = kind === 'offer' ? ['actpass'] : ['active', 'passive'];
  if (!setup || !wanted.includes(setup))
    problems.push(`a=setup:${setup ?? '(none)'} (wanted ${wanted.join(' or ')})`);
  return problems;
}
