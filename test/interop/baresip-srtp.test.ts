// The interop test of issue #15: baresip 1.0 (Debian baresip-core, libre) with SDES-SRTP (RFC 4568;
// `mediaenc=srtp-mand`, module srtp.so) registered over TLS calls the far end, a plain RTP/AVP phone on UDP,
// and each side must hear the other's tone — on the reference (Kamailio + RTPengine, rtpengine_manage with its
// default flags) and on voxgate on its defaults, whose relay ends SRTP for the SRTP caller and offers every
// callee plain RTP/AVP (docs/architecture.md, "The media relay"). Then the far end calls baresip: an
// SRTP-mandatory phone refuses (488) an RTP/AVP offer, so that call only works where the server offers
// baresip RTP/SAVP. The driver is test/interop/clients/baresip.ts; the rule is the suite's: a check the
// reference passes, voxgate passes.
import { test } from 'node:test';
import {
  cseqMethod,
  lastSdp,
  sentByBaresip,
  type BaresipMediaEnc,
  type BaresipTracedMessage,
} from './clients/baresip.js';
import { runBaresipMediaEnc } from './lib/baresip-media-enc.js';
import type { FarEndCall } from './lib/far-end.js';
import { checkAudio, checkRecording, sleep, TALK_MS } from './lib/scenario.js';
import type { SipServer, Transport } from './lib/types.js';

const CLIENT = 'baresip (SRTP, srtp-mand)';
const MEDIAENC: BaresipMediaEnc = 'srtp-mand';
const TRANSPORT: Transport = 'tls';

test('baresip 1.0 with SRTP (mediaenc=srtp-mand) over TLS and a plain RTP/AVP far end, on the reference and voxgate', async () => {
  await runBaresipMediaEnc({
    name: CLIENT,
    mediaenc: MEDIAENC,
    transport: TRANSPORT,
    workDir: 'interop-srtp',
    quirks: [
      '`mediaenc=srtp-mand` (module srtp.so): the offer is RTP/SAVP with exactly one ' +
        '`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<40 base64 characters>` (no lifetime, no MKI), ' +
        'a=rtcp-rsize and no rtcp-mux; an RTP/AVP offer is refused with 488 ("No audio codecs").',
      'It takes the first suite it knows from an offer and echoes its tag; it logs ' +
        '"srtp: audio: SRTP is Enabled (cryptosuite=…)" once the answer is applied.',
      'The far end of this test answers RTP/AVP whatever profile it is offered (a real plain phone answers ' +
        '488 to RTP/SAVP): the check "the far end is offered RTP/AVP without a=crypto" says what such a ' +
        'phone would get.',
    ],
    calls: async ({ server, client, far, account, record, observe, attempt }) => {
      // Call out: baresip (RTP/SAVP) calls the far end (RTP/AVP).
      const outCall: { call?: FarEndCall } = {};
      const traced = client.sipTrace().length;
      const out = await attempt(`call out ${TRANSPORT}`, async () => {
        const incoming = far.nextCall(20_000);
        await client.call(`sip:bob@${server.domain}`);
        outCall.call = await incoming;
      });
      if (out && outCall.call) {
        const call = outCall.call;
        await sleep(TALK_MS);
        const trace = client.sipTrace().slice(traced);
        const offer = lastSdp(trace, (m) => sent(m, server) && m.startLine.startsWith('INVITE '));
        const answer = lastSdp(
          trace,
          (m) => !sent(m, server) && /^SIP\/2\.0 2\d\d /.test(m.startLine) && cseqMethod(m) === 'INVITE',
        );
        if (offer) observe(`baresip offered ${describeSdp(offer)}`);
        const toFarEnd = call.offers[0]?.toString('latin1');
        if (toFarEnd) observe(`the far end (plain RTP/AVP) was offered ${describeSdp(toFarEnd)}`);
        if (answer) observe(`baresip was answered ${describeSdp(answer)}`);

        checkAudio(record, `call out ${TRANSPORT}: audio at far end`, server, call);
        const plain = toFarEnd ? plainOfferProblems(toFarEnd) : ['no offer reached the far end'];
        record(
          `call out ${TRANSPORT}: the far end is offered RTP/AVP without a=crypto`,
          plain.length === 0 ? 'passed' : 'failed',
          plain.length === 0
            ? undefined
            : `${plain.join('; ')} (a plain phone answers 488 to RTP/SAVP; this far end accepts any profile)\n${toFarEnd ?? ''}`,
        );
        const problems = answer
          ? srtpAnswerProblems(answer, offer)
          : ["no 2xx with SDP to baresip's INVITE in its SIP trace"];
        record(
          `call out ${TRANSPORT}: baresip is answered RTP/SAVP with one AES_CM_128 a=crypto`,
          problems.length === 0 ? 'passed' : 'failed',
          problems.length === 0 ? undefined : `${problems.join('; ')}\n${answer ?? ''}`,
        );
        await attempt(`hangup by client ${TRANSPORT}`, async () => {
          await client.hangup();
          await call.waitEnded();
        });
        await checkRecording(record, `call out ${TRANSPORT}: audio at client`, client);
      }

      // Call in: the far end (RTP/AVP) calls baresip, which refuses any offer without SRTP.
      const inCall: { call?: FarEndCall } = {};
      const tracedIn = client.sipTrace().length;
      const answered = client.waitAnswered();
      // Awaited below; a refused call rejects it, which must not go unhandled meanwhile.
      answered.catch(() => undefined);
      await attempt(`call in ${TRANSPORT}`, async () => {
        try {
          inCall.call = await far.call(account.username);
          await answered;
        } catch (err) {
          throw new Error(
            `${refusalReason(server, client.sipTrace().slice(tracedIn))}\n${(err as Error).message}`,
            {
              cause: err,
            },
          );
        }
      });
      const traceIn = client.sipTrace().slice(tracedIn);
      const offeredIn = lastSdp(traceIn, (m) => !sent(m, server) && m.startLine.startsWith('INVITE '));
      const answerIn = traceIn.find(
        (m) => sent(m, server) && /^SIP\/2\.0 [2-6]\d\d /.test(m.startLine) && cseqMethod(m) === 'INVITE',
      );
      if (offeredIn) observe(`baresip was called with ${describeSdp(offeredIn)}`);
      if (answerIn) observe(`baresip answered that call ${answerIn.startLine.slice(8)}`);
      if (inCall.call && !inCall.call.ended) {
        const call = inCall.call;
        await sleep(TALK_MS);
        checkAudio(record, `call in ${TRANSPORT}: audio at far end`, server, call);
        await attempt(`hangup by far end ${TRANSPORT}`, async () => {
          await call.bye();
          await client.waitEnded();
        });
        await checkRecording(record, `call in ${TRANSPORT}: audio at client`, client);
      }

      // The same call with alice provisioned to require SDES-SRTP, where voxgate has that per-user setting (the
      // server's account, not the client's): its callee side must then be offered RTP/SAVP with a=crypto.
      if (server.updateAccount) {
        const unavailable = await server.updateAccount(account.username, { mediaEncryption: 'sdes' }).then(
          () => undefined,
          (err: unknown) => (err as Error).message,
        );
        if (unavailable) observe(`no per-user SRTP setting to try the call in with: ${unavailable}`);
        else {
          const check = `call in ${TRANSPORT}, alice mediaEncryption sdes`;
          const sdesCall: { call?: FarEndCall } = {};
          const from = client.sipTrace().length;
          const sdesAnswered = client.waitAnswered();
          sdesAnswered.catch(() => undefined);
          const ok = await attempt(check, async () => {
            try {
              sdesCall.call = await far.call(account.username);
              await sdesAnswered;
            } catch (err) {
              throw new Error(
                `${refusalReason(server, client.sipTrace().slice(from), true)}\n${(err as Error).message}`,
                {
                  cause: err,
                },
              );
            }
          });
          const offered = lastSdp(
            client.sipTrace().slice(from),
            (m) => !sent(m, server) && m.startLine.startsWith('INVITE '),
          );
          if (offered)
            observe(`with alice's mediaEncryption sdes, baresip was called with ${describeSdp(offered)}`);
          const offerProblems = offered
            ? srtpOfferProblems(offered)
            : ['baresip received no INVITE with SDP'];
          record(
            `${check}: baresip is offered RTP/SAVP, AES_CM_128 first`,
            offerProblems.length === 0 ? 'passed' : 'failed',
            offerProblems.length === 0 ? undefined : `${offerProblems.join('; ')}\n${offered ?? ''}`,
          );
          if (ok && sdesCall.call && !sdesCall.call.ended) {
            const call = sdesCall.call;
            await sleep(TALK_MS);
            checkAudio(record, `${check}: audio at far end`, server, call);
            await attempt(`hangup by far end ${TRANSPORT}, alice mediaEncryption sdes`, async () => {
              await call.bye();
              await client.waitEnded();
            });
            await checkRecording(record, `${check}: audio at client`, client);
          }
        }
      }
    },
  });
});

/** Why a call to baresip failed, from what its SIP trace shows it was offered and how it answered. */
function refusalReason(server: SipServer, trace: readonly BaresipTracedMessage[], sdes = false): string {
  const offered = lastSdp(trace, (m) => !sent(m, server) && m.startLine.startsWith('INVITE '));
  const refusal = trace.find(
    (m) => sent(m, server) && /^SIP\/2\.0 [3-6]\d\d /.test(m.startLine) && cseqMethod(m) === 'INVITE',
  );
  if (!offered) return 'baresip received no INVITE with SDP';
  if (profileOf(offered) === 'RTP/SAVP') {
    return `baresip was offered ${describeSdp(offered)}${refusal ? ` and answered ${refusal.startLine.slice(8)}` : ''}`;
  }
  if (sdes) {
    return (
      `voxgate offered baresip ${describeSdp(offered)} although alice's mediaEncryption is sdes` +
      `${refusal ? ` (baresip: ${refusal.startLine.slice(8)})` : ''}`
    );
  }
  return (
    `${server.name} offered baresip ${describeSdp(offered)}; an SRTP-mandatory phone refuses it` +
    `${refusal ? ` (${refusal.startLine.slice(8)})` : ''}: ` +
    (server.name === 'voxgate'
      ? 'voxgate offers every callee plain RTP/AVP by default (src/gateway/b2bua.ts: profiles callee rtp)'
      : "rtpengine_manage with its default flags keeps the caller's profile (the far end's RTP/AVP)")
  );
}

/** Whether baresip sent `m` (its source is not the server's SIP port). */
function sent(m: BaresipTracedMessage, server: SipServer): boolean {
  return sentByBaresip(m, server, TRANSPORT);
}

function profileOf(sdp: string): string | undefined {
  return /^m=audio \d+ (\S+)/m.exec(sdp)?.[1];
}

function cryptoLines(sdp: string): string[] {
  return [...sdp.matchAll(/^a=crypto:(.*)$/gm)].map((m) => m[1]!.trim());
}

/** "RTP/SAVP with 1 a=crypto line (1 AES_CM_128_HMAC_SHA1_80)" for the report. */
function describeSdp(sdp: string): string {
  const lines = cryptoLines(sdp);
  const suites = lines.map((l) => l.split(/\s+/).slice(0, 2).join(' '));
  const shown = suites.length > 3 ? [...suites.slice(0, 3), '…'] : suites;
  return (
    `${profileOf(sdp) ?? 'no m=audio'} with ${lines.length} a=crypto line${lines.length === 1 ? '' : 's'}` +
    (lines.length > 0 ? ` (${shown.join(', ')})` : '')
  );
}

/** What keeps the far end's offer from being one a plain RTP/AVP phone takes. */
function plainOfferProblems(sdp: string): string[] {
  const problems: string[] = [];
  const profile = profileOf(sdp);
  if (profile !== 'RTP/AVP') problems.push(`offered profile ${profile ?? '(no m=audio)'}`);
  const crypto = cryptoLines(sdp).length;
  if (crypto > 0) problems.push(`${crypto} a=crypto line${crypto === 1 ? '' : 's'}`);
  return problems;
}

/**
 * What is wrong with an inline key (RFC 4568 §6.1, §6.2): an AES_CM_128 key and salt are 30 bytes, written as
 * padded base64.
 */
function keyProblem(keyParams: string | undefined): string | undefined {
  const key = /^inline:([^|\s]+)/.exec(keyParams ?? '')?.[1];
  if (!key) return `key parameters ${keyParams ?? '(none)'}`;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(key) || key.length % 4 !== 0) return `key ${key} is not padded base64`;
  const bytes = Buffer.from(key, 'base64').length;
  return bytes === 30 ? undefined : `key is ${bytes} bytes, not 30`;
}

/**
 * What keeps an offer to baresip from working (notes of issue #15: baresip takes the first suite it knows, and
 * an AEAD_AES_256_GCM one first, with an unpadded key, left it silent): RTP/SAVP, the first a=crypto line an
 * AES_CM_128 suite, every AES_CM_128 key padded base64 of 30 bytes.
 */
function srtpOfferProblems(offer: string): string[] {
  const problems: string[] = [];
  if (profileOf(offer) !== 'RTP/SAVP') problems.push(`profile ${profileOf(offer) ?? '(no m=audio)'}`);
  const lines = cryptoLines(offer).map((l) => l.split(/\s+/));
  if (lines.length === 0) problems.push('no a=crypto line');
  const first = lines[0]?.[1];
  if (first && !/^AES_CM_128_HMAC_SHA1_(80|32)$/.test(first)) problems.push(`first suite ${first}`);
  for (const [tag, suite, keyParams] of lines) {
    if (!/^AES_CM_128_/.test(suite ?? '')) continue;
    const problem = keyProblem(keyParams);
    if (problem) problems.push(`a=crypto:${tag ?? ''}: ${problem}`);
  }
  return problems;
}

/**
 * What is wrong with the answer baresip got (RFC 4568): it must be RTP/SAVP with exactly one a=crypto line of
 * an AES_CM_128 suite whose inline key is padded base64 of 30 bytes (16-byte key, 14-byte salt), with the tag
 * of baresip's offered line and a key of the answerer's own (never the one baresip offered).
 */
function srtpAnswerProblems(answer: string, offer: string | undefined): string[] {
  const problems: string[] = [];
  if (profileOf(answer) !== 'RTP/SAVP') problems.push(`profile ${profileOf(answer) ?? '(no m=audio)'}`);
  const lines = cryptoLines(answer);
  if (lines.length !== 1) problems.push(`${lines.length} a=crypto lines`);
  const line = lines[0];
  if (!line) return problems;
  const [tag, suite, keyParams] = line.split(/\s+/);
  if (!/^AES_CM_128_HMAC_SHA1_(80|32)$/.test(suite ?? '')) problems.push(`suite ${suite ?? '(none)'}`);
  const key = /^inline:([^|\s]+)/.exec(keyParams ?? '')?.[1];
  const problem = keyProblem(keyParams);
  if (problem) problems.push(problem);
  const offered = offer ? cryptoLines(offer)[0]?.split(/\s+/) : undefined;
  if (offered && offered[0] !== tag) problems.push(`tag ${tag ?? ''} is not the offered tag ${offered[0]}`);
  if (offered && key && offered[2]?.startsWith(`inline:${key}`))
    problems.push("the answer repeats baresip's key");
  return problems;
}
