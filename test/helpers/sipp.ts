import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SIPP_SCENARIOS = join(import.meta.dirname, '..', 'fixtures', 'sipp');

/** Whether SIPp (Debian package sip-tester) is on PATH. Under CI its absence is an error, not a skip. */
export function sippInstalled(): boolean {
  const found = spawnSync('which', ['sipp']).status === 0;
  if (!found && process.env.CI) throw new Error('SIPp (Debian package sip-tester) is required in CI');
  return found;
}

/** A free-looking UDP port for a SIPp instance (SIPp needs an explicit -p to be registrable). */
export function sippPort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
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
      text = readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .map((f) => `--- ${f}\n${readFileSync(join(dir, f), 'utf8')}`)
        .join('\n');
      rmSync(dir, { recursive: true, force: true });
      resolve(code);
    });
  });
  return {
    exited,
    logs: () => text.slice(-6000),
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
