import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort, freeUdpPortRun } from './rtpengine.js';

export const SIPP_SCENARIOS = join(import.meta.dirname, '..', 'fixtures', 'sipp');

/** Whether SIPp (Debian package sip-tester) is on PATH. Under CI its absence is an error, not a skip. */
export function sippInstalled(): boolean {
  const found = spawnSync('which', ['sipp']).status === 0;
  if (!found && process.env.CI) throw new Error('SIPp (Debian package sip-tester) is required in CI');
  return found;
}

/**
 * A UDP port free now for a SIPp instance's SIP socket (SIPp needs an explicit -p to be registrable), drawn
 * outside the ephemeral range and the relays' RTP ports: a port drawn at random from 20000–39999 was now and
 * then taken by a relay on its default range (30000–40000) or a socket bound to port 0 before SIPp bound it.
 */
export function sippPort(): Promise<number> {
  return freeUdpPort();
}

/** The base of SIPp's -mp (RTP echo): even, free now with the three ports after it (audio and video, RTP and RTCP). */
export function sippMediaPort(): Promise<number> {
  return freeUdpPortRun(4);
}

export interface SippRun {
  /** SIPp's exit code: 0 when every call of the scenario succeeded. */
  readonly exited: Promise<number | null>;
  /** The error and message logs SIPp wrote, for assertion messages. */
  logs(): string;
  kill(): void;
}

/**
 * Starts SIPp on scenario `name` (a file of test/fixtures/sipp) against `target`, asynchronously: the
 * gateway under test may run in this very process. Each run writes its logs into its own directory.
 */
export function startSipp(name: string, target: string, args: readonly string[]): SippRun {
  const dir = mkdtempSync(join(tmpdir(), 'voxgate-sipp-'));
  const child = spawn(
    'sipp',
    [
      '-sf',
      join(SIPP_SCENARIOS, name),
      target,
      '-i',
      '127.0.0.1',
      '-nostdin',
      '-trace_err',
      '-trace_msg',
      ...args,
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  let text = '';
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      // The error log whole (it says why a call failed), then the end of the message log.
      const read = (f: string) => `--- ${f}\n${readFileSync(join(dir, f), 'utf8')}`;
      const logs = readdirSync(dir).filter((f) => f.endsWith('.log'));
      const errors = logs
        .filter((f) => f.endsWith('_errors.log'))
        .map(read)
        .join('\n');
      const messages = logs
        .filter((f) => !f.endsWith('_errors.log'))
        .map(read)
        .join('\n');
      text = `${errors}\n${messages.slice(-Math.max(2000, 6000 - errors.length))}`;
      rmSync(dir, { recursive: true, force: true });
      resolve(code);
    });
  });
  return {
    exited,
    logs: () => text,
    kill: () => child.kill('SIGKILL'),
  };
}

/** Runs SIPp to completion and returns its exit code and logs. */
export async function runSipp(
  name: string,
  target: string,
  args: readonly string[],
): Promise<{ code: number | null; logs: string }> {
  const run = startSipp(name, target, args);
  const code = await run.exited;
  return { code, logs: run.logs() };
}

/** Arguments of register-digest.xml: `user` registers from 127.0.0.1:`port` with its password. */
export function sippRegisterArgs(
  user: string,
  password: string,
  port: number,
  domain = 'acme.example',
): string[] {
  return [
    '-p',
    String(port),
    '-m',
    '1',
    '-s',
    user,
    '-au',
    user,
    '-ap',
    password,
    '-key',
    'domain',
    domain,
    '-timeout',
    '15s',
    '-timeout_error',
  ];
}

/**
 * Arguments of a callee scenario (uas-answer.xml …): one call answered on 127.0.0.1:`port`, the RTP it gets
 * echoed from a free media port, within 30 s.
 */
export async function sippCalleeArgs(port: number): Promise<string[]> {
  return [
    '-p',
    String(port),
    '-m',
    '1',
    '-mi',
    '127.0.0.1',
    '-mp',
    String(await sippMediaPort()),
    '-rtp_echo',
    '-timeout',
    '30s',
    '-timeout_error',
  ];
}

/**
 * Arguments of a caller scenario (uac-call.xml, uac-refer.xml …): `caller` (alice unless said), with `password`,
 * calls `service` (bob unless said) of acme.example once from a free port, its media on a free port; `keys` are
 * the scenario's further keys (uac-refer.xml's target).
 */
export async function sippCallerArgs(
  password: string,
  {
    caller = 'alice',
    service = 'bob',
    keys = {},
    timeout = '30s',
  }: { caller?: string; service?: string; keys?: Readonly<Record<string, string>>; timeout?: string } = {},
): Promise<string[]> {
  return [
    '-p',
    String(await sippPort()),
    '-m',
    '1',
    '-s',
    service,
    '-au',
    caller,
    '-ap',
    password,
    '-key',
    'domain',
    'acme.example',
    '-key',
    'caller',
    caller,
    ...Object.entries(keys).flatMap(([key, value]) => ['-key', key, value]),
    '-mi',
    '127.0.0.1',
    '-mp',
    String(await sippMediaPort()),
    '-timeout',
    timeout,
    '-timeout_error',
  ];
}
