import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Baresip, baresipConfigSample, type BaresipMediaEnc } from '../clients/baresip.js';
import { CLIENT_TONE_HZ, FAR_END_TONE_HZ, writeToneWav } from './audio.js';
import { FarEnd } from './far-end.js';
import { recordResults } from './results.js';
import { assertVoxgateMatchesReference, runCheck, type Recorder } from './scenario.js';
import { servers } from './servers.js';
import type { Account, CheckResult, SipServer, Transport } from './types.js';
import { interopWorkDir } from './work-dir.js';

/** One server's run of a baresip media-encryption test: what its checks use. */
export interface BaresipRun {
  readonly server: SipServer;
  readonly client: Baresip;
  /** bob, a plain RTP/AVP phone on UDP, registered. */
  readonly far: FarEnd;
  /** alice, whom baresip registers as. */
  readonly account: Account;
  readonly record: Recorder;
  /** Adds a line to the report's observations, after the server's name and the transport. */
  readonly observe: (text: string) => void;
  /** Runs a check, failed with baresip's and the server's log tails (runCheck). */
  readonly attempt: (check: string, body: () => Promise<void>) => Promise<boolean>;
}

export interface BaresipMediaEncSuite {
  /** The client's name in the report, e.g. 'baresip (SRTP, srtp-mand)'. */
  readonly name: string;
  readonly mediaenc: BaresipMediaEnc;
  readonly transport: Transport;
  /** The prefix of the scratch folder (interopWorkDir). */
  readonly workDir: string;
  /** Wire quirks seen with this client, for docs/interop.md. */
  readonly quirks: readonly string[];
  /** alice's settings on the server, before anyone registers. */
  readonly provision?: (run: BaresipRun) => Promise<void>;
  /** The calls and their checks, once baresip has registered. */
  readonly calls: (run: BaresipRun) => Promise<void>;
}

/**
 * Runs a baresip test of issue #15's media encryption on each server, the reference first: the far end (bob)
 * registers, baresip with `mediaenc` registers as alice over `transport`, then `calls` makes the calls and
 * checks them. Writes the client's report and asserts the suite's rule: a check the reference passes, voxgate
 * passes.
 */
export async function runBaresipMediaEnc(suite: BaresipMediaEncSuite): Promise<void> {
  const { transport } = suite;
  const results: CheckResult[] = [];
  const scratch = interopWorkDir(suite.workDir);
  const work = scratch.path;
  const toneFile = join(work, 'client-tone.wav');
  writeToneWav(toneFile, CLIENT_TONE_HZ, 120);
  let identity = { version: '', stack: '' };
  const samples: { [transport: string]: string } = {};
  const serverNames: { [server: string]: string } = {};
  const observations: string[] = [];

  for (const factory of await servers()) {
    const server = await factory.start();
    serverNames[server.name] = server.description;
    samples[transport] = baresipConfigSample(server, transport, suite.mediaenc);
    const record: Recorder = (check, outcome, detail) =>
      results.push({
        client: suite.name,
        server: server.name,
        check,
        outcome,
        ...(detail ? { detail } : {}),
      });
    const observe = (text: string) => observations.push(`${server.name}, ${transport}: ${text}`);
    const far = await FarEnd.open(server, server.account('bob'), FAR_END_TONE_HZ);
    const client = new Baresip({ mediaenc: suite.mediaenc });
    const log = () => client.logTail();
    const attempt = (check: string, body: () => Promise<void>) => runCheck(record, server, log, check, body);
    const account = server.account('alice');
    const run: BaresipRun = { server, client, far, account, record, observe, attempt };
    try {
      await suite.provision?.(run);
      await far.register();
      const clientDir = join(work, server.name);
      mkdirSync(clientDir, { recursive: true });
      const registered = await attempt(`register ${transport}`, () =>
        client.start({ server, transport, account, workDir: clientDir, toneFile }),
      );
      identity = { version: client.version, stack: client.stack };
      if (registered) await suite.calls(run);
    } finally {
      await client.stop().catch(() => undefined);
      await far.unregister();
      far.close();
      await server.stop();
    }
  }

  recordResults(
    {
      name: suite.name,
      ...identity,
      transports: [transport],
      configSamples: samples,
      quirks: suite.quirks,
      servers: serverNames,
      observations,
    },
    results,
  );
  scratch.remove();
  assertVoxgateMatchesReference(results);
}
