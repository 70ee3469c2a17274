import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A `voxgate` process started from the sources, with every listener on a free loopback port. */
export interface VoxgateProcess {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  readonly stderr: string[];
  readonly dataDir: string;
  readonly httpUrl: string;
  readonly sipUdpPort?: number;
  readonly sipTcpPort?: number;
  readonly ngPort?: number;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const BIN = ['--import', 'tsx', 'src/bin/voxgate.ts'];

/** Environment without the caller's VOXGATE_* settings, plus loopback/ephemeral-port defaults. */
export function isolatedEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VOXGATE_')) env[k] = v;
  return {
    ...env,
    VOXGATE_SIP_HOST: '127.0.0.1',
    VOXGATE_SIP_PORT: '0',
    VOXGATE_SIP_WS_PORT: '0',
    VOXGATE_API_HOST: '127.0.0.1',
    VOXGATE_API_PORT: '0',
    VOXGATE_MEDIA_NG: '127.0.0.1:0',
    VOXGATE_SHUTDOWN_GRACE_SECONDS: '5',
    ...extra,
  };
}

/** Runs `voxgate args…` to completion (for one-shot commands and start failures). */
export function runVoxgate(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...BIN, ...args], { env: isolatedEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function startVoxgate(
  args: string[],
  env: Record<string, string> = {},
  /** startTimeoutMs: how long to wait for "voxgate started" (30 s; a loaded machine may need more). */
  options: { dataDir?: string; startTimeoutMs?: number } = {},
): Promise<VoxgateProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'voxgate-test-')));
  const child = spawn(process.execPath, [...BIN, ...args], {
    env: isolatedEnv({ VOXGATE_DATA_DIR: dataDir, ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const started = await new Promise<Record<string, unknown>[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running behind the failed test.
      child.kill('SIGKILL');
      reject(new Error(`voxgate did not start: ${stderr.join('\n')}`));
    }, options.startTimeoutMs ?? 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
      if (logs.at(-1)?.msg === 'voxgate started') {
        clearTimeout(timer);
        resolve(logs);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`voxgate exited with ${code} before it started: ${stderr.join('\n')}`));
    });
  });
  const find = (msg: string) => started.find((l) => l.msg === msg);
  const http = find('HTTP listening')?.address as string;
  const ng = find('media relay ng control listening')?.ng as { port: number } | undefined;
  return {
    child,
    logs,
    stderr,
    dataDir,
    httpUrl: http,
    sipUdpPort: find('SIP listening')?.udp as number | undefined,
    sipTcpPort: find('SIP listening')?.tcp as number | undefined,
    ngPort: ng?.port,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      const code = await exited;
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
