import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_TONE_HZ, FAR_END_TONE_HZ, hears, readWav, writeToneWav } from './audio.js';
import { FarEnd, type FarEndCall } from './far-end.js';
import { recordResults } from './results.js';
import { interopWorkDir } from './work-dir.js';
import type { CheckResult, ServerName, SipServer, Softphone, Transport } from './types.js';

/** How long audio flows in each call before it is judged (the tone must be heard for at least 1 s of it). */
export const TALK_MS = 3000;

export interface ClientSuite {
  /** A new driver for each run (a client process per server and transport). */
  readonly make: () => Softphone;
  /** Transports the client is tried on (every one is tried on both servers). */
  readonly transports: readonly Transport[];
  /** The account the client registers as (alice unless the test says otherwise). */
  readonly account?: string;
  /** The client's working configuration as users would write it, for docs/interop.md (per transport). */
  readonly configSample: (server: SipServer, transport: Transport) => string;
  /** Wire quirks seen with this client, for docs/interop.md. */
  readonly quirks?: readonly string[];
}

export interface ServerFactory {
  readonly name: ServerName;
  readonly start: () => Promise<SipServer>;
}

/**
 * Runs the interop checks of one client against each server, in order (the reference first): for every
 * transport, register, call out and call in with the audio checked at both ends, and on the first transport
 * hold/resume, DTMF and hang-up from each side. Every check is recorded as passed, failed (with what was not
 * seen) or not drivable. Then asserts the rule of the suite: a check the reference passes, voxgate passes.
 */
export async function runClientSuite(
  suite: ClientSuite,
  servers: readonly ServerFactory[],
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const scratch = interopWorkDir('interop');
  const work = scratch.path;
  const toneFile = join(work, 'client-tone.wav');
  writeToneWav(toneFile, CLIENT_TONE_HZ, 120);
  let identity = { name: suite.make().name, version: '', stack: '' };
  const samples: Record<string, string> = {};
  const serverNames: Record<string, string> = {};
  const observations: string[] = [];

  for (const factory of servers) {
    const server = await factory.start();
    serverNames[server.name] = server.description;
    const far = await FarEnd.open(server, server.account('bob'), FAR_END_TONE_HZ);
    try {
      await far.register();
      for (const [index, transport] of suite.transports.entries()) {
        const record = (check: string, outcome: CheckResult['outcome'], detail?: string) =>
          results.push({
            client: identity.name,
            server: server.name,
            check,
            outcome,
            ...(detail ? { detail } : {}),
          });
        const attempt = (check: string, body: () => Promise<void>, log: () => string) =>
          runCheck(record, server, log, check, body);
        const client = suite.make();
        const clientDir = join(work, `${server.name}-${transport}`);
        mkdirSync(clientDir, { recursive: true });
        samples[transport] = suite.configSample(server, transport);
        const account = server.account(suite.account ?? 'alice');
        try {
          const registered = await attempt(
            `register ${transport}`,
            () => client.start({ server, transport, account, workDir: clientDir, toneFile }),
            () => client.logTail(),
          );
          identity = { name: client.name, version: client.version, stack: client.stack };
          if (!registered) continue;
          const log = () => client.logTail();
          const first = index === 0;

          // Call out: the client calls the far end.
          let farCall: FarEndCall | undefined;
          const out = await attempt(
            `call out ${transport}`,
            async () => {
              const incoming = far.nextCall(20_000);
              await client.call(`sip:bob@${server.domain}`);
              farCall = await incoming;
            },
            log,
          );
          if (out && farCall) {
            await sleep(TALK_MS);
            const call = farCall;
            const offered = codecs(call.offers[0]);
            if (offered)
              observations.push(
                `${server.name}, ${transport}: the call's offer reached the far end with ${offered}`,
              );
            checkAudio(record, `call out ${transport}: audio at far end`, server, call);
            if (first) {
              if (client.hold && client.resume) {
                const hold = client.hold.bind(client);
                const resume = client.resume.bind(client);
                const held = await attempt(
                  'hold',
                  async () => {
                    await hold();
                    await waitAnyDirection(call, ['sendonly', 'inactive']);
                  },
                  log,
                );
                if (held) {
                  await attempt(
                    'resume',
                    async () => {
                      await resume();
                      await call.waitDirection('sendrecv');
                    },
                    log,
                  );
                } else record('resume', 'failed', 'not tried: hold failed');
              } else {
                record('hold', 'not drivable');
                record('resume', 'not drivable');
              }
              if (client.sendDtmf) {
                const dtmf = client.sendDtmf.bind(client);
                await attempt(
                  'dtmf (RFC 4733)',
                  async () => {
                    await dtmf('159#');
                    await until(
                      () => call.media.digits.join('') === '159#',
                      8000,
                      () => `digits seen: ${JSON.stringify(call.media.digits)}`,
                    );
                  },
                  log,
                );
              } else record('dtmf (RFC 4733)', 'not drivable');
            }
            await attempt(
              `hangup by client ${transport}`,
              async () => {
                await client.hangup();
                await call.waitEnded();
              },
              log,
            );
            await checkRecording(record, `call out ${transport}: audio at client`, client);
          }

          // Call in: the far end calls the client, which answers automatically.
          await attempt(
            `call in ${transport}`,
            async () => {
              const answered = client.waitAnswered();
              farCall = await far.call(account.username);
              await answered;
            },
            log,
          );
          if (farCall && !farCall.ended && farCall.callId !== undefined) {
            const call = farCall;
            await sleep(TALK_MS);
            checkAudio(record, `call in ${transport}: audio at far end`, server, call);
            await attempt(
              `hangup by far end ${transport}`,
              async () => {
                await call.bye();
                await client.waitEnded();
              },
              log,
            );
            await checkRecording(record, `call in ${transport}: audio at client`, client);
          }
        } finally {
          await client.stop().catch(() => undefined);
        }
      }
    } finally {
      await far.unregister();
      far.close();
      await server.stop();
    }
  }

  recordResults(
    {
      ...identity,
      transports: suite.transports,
      configSamples: samples,
      quirks: suite.quirks ?? [],
      servers: serverNames,
      observations,
    },
    results,
  );
  scratch.remove();
  return results;
}

/**
 * The suite's rule, as assertions: every check the reference passed, voxgate passed — and each other server
 * named in `also` (e.g. 'kamailio+voxgate-relay') passed too.
 */
export function assertVoxgateMatchesReference(
  results: readonly CheckResult[],
  also: readonly ServerName[] = [],
): void {
  const failed = (['voxgate', ...also] as const).flatMap((server) =>
    results
      .filter((r) => r.server === 'reference' && r.outcome === 'passed')
      .filter(
        (ref) => results.find((r) => r.server === server && r.check === ref.check)?.outcome !== 'passed',
      )
      .map((ref) => {
        const mine = results.find((r) => r.server === server && r.check === ref.check);
        return `${server}, ${ref.check}: ${mine ? `${mine.outcome}${mine.detail ? `\n${mine.detail}` : ''}` : 'not reached'}`;
      }),
  );
  assert.deepEqual(failed, [], `passed on the reference, not on voxgate:\n${failed.join('\n\n')}`);
}

/** Records one check's outcome. */
export type Recorder = (check: string, outcome: CheckResult['outcome'], detail?: string) => void;

/**
 * Runs one check: passed when `body` resolves; failed when it rejects, with what was not seen and the tails
 * of the client's and the server's logs.
 */
export async function runCheck(
  record: Recorder,
  server: SipServer,
  clientLog: () => string,
  check: string,
  body: () => Promise<void>,
): Promise<boolean> {
  try {
    await body();
    record(check, 'passed');
    return true;
  } catch (err) {
    record(
      check,
      'failed',
      `${(err as Error).message}\n--- client log ---\n${clientLog()}\n--- server log ---\n${server.logTail(40)}`,
    );
    return false;
  }
}

/** The far end heard the client's tone, in RTP that came only from the relay's ports. */
export function checkAudio(record: Recorder, check: string, server: SipServer, call: FarEndCall): void {
  const [low, high] = server.rtpPorts;
  const foreign = [...call.media.sources].filter((p) => p < low || p > high);
  if (call.media.packets === 0) return record(check, 'failed', 'no RTP reached the far end');
  if (foreign.length > 0)
    return record(check, 'failed', `RTP from ports outside the relay's range: ${foreign.join(', ')}`);
  if (!hears(call.media.pcm(), CLIENT_TONE_HZ)) {
    return record(
      check,
      'failed',
      `RTP arrived (${call.media.packets} packets) but the client's ${CLIENT_TONE_HZ} Hz tone was not heard`,
    );
  }
  record(check, 'passed');
}

/** The client's recording of the call holds the far end's tone (not drivable when it cannot record). */
export async function checkRecording(record: Recorder, check: string, client: Softphone): Promise<void> {
  if (!client.recording) return record(check, 'not drivable');
  try {
    const path = await client.recording();
    if (hears(readWav(path), FAR_END_TONE_HZ)) record(check, 'passed');
    else
      record(
        check,
        'failed',
        `the far end's ${FAR_END_TONE_HZ} Hz tone is not in the client's recording ${path}`,
      );
  } catch (err) {
    record(check, 'failed', (err as Error).message);
  }
}

/** Static payload types a party may offer without a=rtpmap (RFC 3551 §6). */
const STATIC_PAYLOADS: Record<string, string> = {
  '0': 'PCMU/8000',
  '3': 'GSM/8000',
  '4': 'G723/8000',
  '8': 'PCMA/8000',
  '9': 'G722/8000',
  '18': 'G729/8000',
};

/** The codecs of an SDP offer in m= line order, as "opus/48000/2, PCMU/8000, telephone-event/8000". */
function codecs(sdp: Buffer | undefined): string | undefined {
  if (!sdp) return undefined;
  const text = sdp.toString('latin1');
  const formats = /^m=audio \d+ \S+ ([\d ]+)/m.exec(text)?.[1]?.trim().split(/\s+/) ?? [];
  const mapped = new Map([...text.matchAll(/^a=rtpmap:(\d+) (\S+)/gm)].map((m) => [m[1]!, m[2]!]));
  const names = formats.map((pt) => mapped.get(pt) ?? STATIC_PAYLOADS[pt] ?? `payload ${pt}`);
  return names.length > 0 ? names.join(', ') : undefined;
}

async function waitAnyDirection(call: FarEndCall, dirs: string[], ms = 10_000): Promise<void> {
  await until(
    () => call.offeredDirections.slice(1).some((d) => dirs.includes(d)),
    ms,
    () => `no re-INVITE offering ${dirs.join(' or ')}; offers seen: ${call.offeredDirections.join(', ')}`,
  );
}

export async function until(check: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(what());
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
