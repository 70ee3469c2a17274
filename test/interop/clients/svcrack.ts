// The SIPVicious svcrack driver of the interop suite: runs Debian's `svcrack` (sipvicious 0.3.3) with a
// dictionary against a server and reads what it found and which local port it ended up on, and probes, with a
// REGISTER of the right password from that very address and port, whether the server now refuses the source.
// svcrack.test.ts owns the checks.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  answerChallenge,
  buildRequest,
  headerValues,
  newTag,
  parseMessage,
  type SipHeader,
  type SipResponse,
} from '../../../src/sip/index.js';
import type { Account, SipServer } from '../lib/types.js';

/** How long one svcrack run may take at most. */
const RUN_MS = 120_000;
/** Silence after which svcrack is taken to be stuck (its own waits are 10 s). */
const STALL_MS = 15_000;

/** svcrack's version as `svcrack --version` prints it ("0.3.3"). */
export function svcrackVersion(): string {
  const out = spawnSync('svcrack', ['--version'], { encoding: 'utf8' });
  return /v(\d+\.\d+(?:\.\d+)?)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? 'unknown';
}

export function svcrackInstalled(): boolean {
  return spawnSync('which', ['svcrack']).status === 0;
}

/** The command line the driver runs (without the dictionary's path), for the report. */
export function svcrackArgs(
  server: Pick<SipServer, 'address' | 'ports' | 'domain'>,
  username: string,
  dictionary: string,
): string[] {
  // -x: the address svcrack writes in its Via; without it svcrack resolves the machine's host name.
  // --domain: the account's domain (Request-URI, To, From); without it svcrack uses the target's address.
  return [
    '-v',
    '-u',
    username,
    '--domain',
    server.domain,
    '-d',
    dictionary,
    '-x',
    '127.0.0.1',
    `udp://${server.address}:${server.ports.udp}`,
  ];
}

export interface SvcrackRun {
  /** The password svcrack reports for the user, if it found one. */
  readonly found: string | undefined;
  /** The UDP port svcrack sent from: 5060 unless that was taken (it then tries the next ones and says so). */
  readonly localPort: number;
  readonly exitCode: number | null;
  /** True when the driver stopped it: it had printed nothing for STALL_MS (what it does once refused). */
  readonly stopped: boolean;
  /** Its whole output (stdout and stderr, in order). */
  readonly output: string;
}

/** Runs svcrack with `passwords` (one a line, in order) against `server` and waits for it to end. */
export async function runSvcrack(opts: {
  readonly server: SipServer;
  readonly username: string;
  readonly passwords: readonly string[];
  readonly workDir: string;
  readonly name: string;
}): Promise<SvcrackRun> {
  const dictionary = join(opts.workDir, `${opts.name}.txt`);
  writeFileSync(dictionary, `${opts.passwords.join('\n')}\n`);
  const child = spawn('svcrack', svcrackArgs(opts.server, opts.username, dictionary), {
    cwd: opts.workDir,
    // HOME: svcrack keeps sessions under ~/.sipvicious when asked to; nothing of it outside the workDir.
    env: { ...process.env, HOME: opts.workDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let lastOutput = Date.now();
  const take = (c: string) => {
    output += c;
    lastOutput = Date.now();
  };
  child.stdout.setEncoding('utf8').on('data', take);
  child.stderr.setEncoding('utf8').on('data', take);
  let exitCode: number | null | undefined;
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  const exited = new Promise<void>((resolve) =>
    child.on('close', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  const started = Date.now();
  let stopped = false;
  // svcrack ends by itself once it found the password, ran out of them (after its own 10 s wait), or heard
  // nothing for 10 s. Refused with 403 it gets no new nonce and resends its REGISTER without credentials
  // every 5 ms; each 403 counts as an answer, so it never ends: stop it when it has printed nothing new for
  // STALL_MS (longer than its own waits).
  while (exitCode === undefined && !spawnError) {
    if (Date.now() - lastOutput > STALL_MS) {
      stopped = true;
      // SIGINT: svcrack's own "caught your control^c - quiting", then it prints what it found.
      child.kill('SIGINT');
      const force = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(force);
      break;
    }
    if (Date.now() - started > RUN_MS) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`svcrack did not end within ${RUN_MS} ms; its output:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (spawnError) throw spawnError;
  writeFileSync(join(opts.workDir, `${opts.name}.log`), output);
  const moved = /Listening on port (\d+) instead/.exec(output);
  // "The password for mallory is sunshine1" (-v), and the table: "| mallory   | sunshine1 |".
  const said = new RegExp(`The password for ${opts.username} is (\\S+)`).exec(output)?.[1];
  const row = new RegExp(`\\|\\s*${opts.username}\\s*\\|\\s*(\\S+)\\s*\\|`).exec(output)?.[1];
  return {
    found: said ?? row,
    localPort: moved ? Number(moved[1]) : 5060,
    exitCode: exitCode ?? null,
    stopped,
    output,
  };
}

/**
 * A REGISTER of `account` with its right password, sent over UDP from 127.0.0.1:`localPort` (where svcrack
 * sent from) and answering one challenge: the statuses of the final responses, in order (e.g. [401, 200], or
 * [403] when the server refuses the source).
 */
export async function probeRegister(
  server: SipServer,
  account: Account,
  localPort: number,
): Promise<number[]> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(localPort, '127.0.0.1', () => resolve());
  });
  const responses: SipResponse[] = [];
  let wake: (() => void) | undefined;
  socket.on('message', (bytes) => {
    try {
      const m = parseMessage(bytes, { datagram: true });
      if (m.kind === 'response' && m.status >= 200) {
        responses.push(m);
        wake?.();
      }
    } catch {
      // not SIP
    }
  });
  const next = (what: string) =>
    new Promise<SipResponse>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`probe REGISTER: no answer to ${what} within 5000 ms`)),
        5000,
      );
      const take = () => {
        const r = responses.shift();
        if (!r) return;
        clearTimeout(timer);
        wake = undefined;
        resolve(r);
      };
      wake = take;
      take();
    });
  const aor = `sip:${account.username}@${server.domain}`;
  const uri = `sip:${server.domain}`;
  const callId = randomBytes(8).toString('hex');
  const tag = newTag();
  const register = (cseq: number, extra: SipHeader[]) =>
    buildRequest('REGISTER', uri, [
      {
        name: 'Via',
        value: `SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
      },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `<${aor}>;tag=${tag}` },
      { name: 'To', value: `<${aor}>` },
      { name: 'Call-ID', value: callId },
      { name: 'CSeq', value: `${cseq} REGISTER` },
      { name: 'Contact', value: `<sip:${account.username}@127.0.0.1:${localPort}>` },
      { name: 'Expires', value: '0' },
      ...extra,
    ]);
  const send = (bytes: Buffer) => socket.send(bytes, server.ports.udp, server.address);
  try {
    const statuses: number[] = [];
    send(register(1, []));
    let res = await next('the REGISTER');
    statuses.push(res.status);
    if (res.status === 401) {
      const answer = answerChallenge({
        challenges: headerValues(res, 'WWW-Authenticate'),
        method: 'REGISTER',
        uri,
        username: account.username,
        password: account.password,
      });
      if (!answer)
        throw new Error(
          `probe REGISTER: no usable challenge in ${headerValues(res, 'WWW-Authenticate').join(' | ')}`,
        );
      send(register(2, [{ name: 'Authorization', value: answer.authorization }]));
      res = await next('the REGISTER with credentials');
      statuses.push(res.status);
    }
    return statuses;
  } finally {
    socket.close();
  }
}
