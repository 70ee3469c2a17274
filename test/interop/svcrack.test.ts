// The interop suite's authentication control, SIPVicious svcrack 0.3.3 (Debian sipvicious): on each server
// (the reference, then voxgate, on their defaults) a dictionary run of wrong passwords then the right one must
// find mallory's password (digest done right), and a run of more wrong passwords than voxgate's ban threshold
// must leave voxgate refusing that source (403 to a REGISTER with the right password from the same address and
// port). The reference has no ban configured: what it does is recorded as not applicable. Results go to
// interop-results/ like the softphones' (docs/interop.md).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  probeRegister,
  runSvcrack,
  svcrackArgs,
  svcrackInstalled,
  svcrackVersion,
} from './clients/svcrack.js';
import { recordResults } from './lib/results.js';
import { interopWorkDir } from './lib/work-dir.js';
import { servers } from './lib/servers.js';
import type { CheckResult } from './lib/types.js';

const CLIENT = 'SIPVicious svcrack';
const USER = 'mallory';
/** voxgate's default VOXGATE_SIP_AUTH_BAN_THRESHOLD: failed authentications from one address before it is refused. */
const BAN_THRESHOLD = 10;
/** The first run: a few wrong passwords (below the threshold), then the right one. */
const FIRST_WRONG = ['123456', 'password', 'qwerty', 'letmein', 'mallory1'];
/** The second run: only wrong passwords, more than the threshold on their own. */
const SECOND_WRONG = Array.from({ length: BAN_THRESHOLD + 2 }, (_, i) => `wrong-guess-${i + 1}`);

test(
  'svcrack finds the right password on voxgate as on the reference, and voxgate then bans the source',
  { skip: svcrackInstalled() ? false : 'svcrack (Debian sipvicious) is not installed' },
  async () => {
    const results: CheckResult[] = [];
    const notes: string[] = [];
    const scratch = interopWorkDir('interop-svcrack');
    const work = scratch.path;
    const record = (
      server: CheckResult['server'],
      check: string,
      outcome: CheckResult['outcome'],
      detail?: string,
    ) => results.push({ client: CLIENT, server, check, outcome, ...(detail ? { detail } : {}) });
    let sample = '';
    const described: Record<string, string> = {};

    for (const factory of await servers()) {
      const server = await factory.start();
      described[server.name] = server.description;
      const dir = join(work, server.name);
      mkdirSync(dir, { recursive: true });
      try {
        const password = server.account(USER).password;
        sample ||= `printf '%s\\n' ${FIRST_WRONG.join(' ')} '${password}' > dictionary.txt\nsvcrack ${svcrackArgs(server, USER, 'dictionary.txt').join(' ')}`;

        const first = await runSvcrack({
          server,
          username: USER,
          passwords: [...FIRST_WRONG, password],
          workDir: dir,
          name: 'right-password',
        });
        const port = `svcrack sent from 127.0.0.1:${first.localPort}${first.localPort === 5060 ? '' : ' (5060 was taken: it moved on by itself)'}`;
        notes.push(`${server.name}: ${port}`);
        if (first.found === password) record(server.name, 'right password found', 'passed');
        else
          record(
            server.name,
            'right password found',
            'failed',
            `svcrack ${first.found ? `reported ${first.found}` : 'found nothing'} (exit ${first.exitCode}); ${port}\n${tail(first.output)}\n--- server log ---\n${server.logTail(30)}`,
          );

        const second = await runSvcrack({
          server,
          username: USER,
          passwords: SECOND_WRONG,
          workDir: dir,
          name: 'wrong-passwords',
        });
        let statuses: number[] = [];
        let probeError = '';
        try {
          statuses = await probeRegister(server, server.account(USER), second.localPort);
        } catch (err) {
          probeError = (err as Error).message;
        }
        const how = second.stopped
          ? 'svcrack stopped by the driver after 15 s without output'
          : `svcrack ended by itself (exit ${second.exitCode})`;
        const seen = `after ${FIRST_WRONG.length} + ${SECOND_WRONG.length} wrong passwords (${how}, found ${second.found ?? 'nothing'}), a REGISTER with the right password from 127.0.0.1:${second.localPort} got ${probeError || statuses.join(' then ')}`;
        notes.push(`${server.name}: ${seen}`);
        if (server.name === 'reference') {
          // No ban is configured on the reference (no pike/fail2ban in kamailio-reference.cfg): not applicable.
          record(
            server.name,
            'banned after wrong passwords',
            'not drivable',
            `not applicable (no ban configured): ${seen}`,
          );
        } else if (statuses[0] === 403) {
          record(server.name, 'banned after wrong passwords', 'passed', seen);
        } else {
          record(
            server.name,
            'banned after wrong passwords',
            'failed',
            `${seen}\n${tail(second.output)}\n--- server log ---\n${server.logTail(30)}`,
          );
        }
      } finally {
        await server.stop();
      }
    }

    recordResults(
      {
        name: CLIENT,
        version: svcrackVersion(),
        stack: 'SIPVicious (Python, its own SIP messages)',
        transports: ['udp'],
        configSamples: { udp: sample },
        quirks: [
          'UDP only; it reads only the first challenge of a 401 (a SHA-256 one first: "Unknown algorithm" and ' +
            'a crash) and needs qop="auth" quoted, else it sends qop=auth without nc/cnonce.',
          'It always binds 0.0.0.0 (-b is parsed but never used) and port 5060 (-P), moving on to 5061, 5062 … ' +
            'when that is taken — voxgate holding 127.0.0.1:5060 in the same namespace makes it use 5061.',
          'A 403 is read as "wrong password" and otherwise ignored: refused, it gets no new nonce, tries no ' +
            'more passwords and resends its REGISTER without credentials as fast as its -t allows (measured: ' +
            '2557 REGISTERs in 15 s, each answered 403 by voxgate); each 403 resets its 10 s silence limit, so ' +
            'it never ends by itself: the driver stops it (SIGINT) after 15 s without output.',
          'Without --domain it uses the target address as domain and realm (To: sip:mallory@127.0.0.1): voxgate ' +
            'knows no such domain and every guess fails; the reference checked only the user name and found the ' +
            'password all the same.',
        ],
        servers: described,
        observations: notes,
      },
      results,
    );
    scratch.remove();

    const on = (server: string, check: string) =>
      results.find((r) => r.server === server && r.check === check);
    if (on('reference', 'right password found')?.outcome === 'passed') {
      assert.equal(
        on('voxgate', 'right password found')?.outcome,
        'passed',
        on('voxgate', 'right password found')?.detail,
      );
    }
    assert.equal(
      on('voxgate', 'banned after wrong passwords')?.outcome,
      'passed',
      on('voxgate', 'banned after wrong passwords')?.detail ?? 'voxgate not reached',
    );
  },
);

function tail(text: string, lines = 25): string {
  return text.split('\n').slice(-lines).join('\n');
}
