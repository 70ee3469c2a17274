// Shared by the tests that build and run the image with a real Docker engine (test/deploy/image.test.ts).
import { spawn, spawnSync } from 'node:child_process';

/** Runs `docker args…` to completion; never throws on a non-zero exit. */
export function docker(
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Why the Docker tests cannot run here, or undefined when an engine answers. With CI=true and a docker
 * client installed, an engine that does not answer is an error (the test must run there), not a skip.
 */
export function dockerSkipReason(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v docker']).status !== 0)
    return 'no docker client (Debian docker.io; see docs/deployment.md "Image and dev stack, built and run here")';
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  if (info.status === 0 && info.stdout.trim()) return undefined;
  // "Docker exists" in CI means an engine is installed (dockerd): .ci/run starts it (scripts/ci/docker-engine.sh).
  const engine = spawnSync('sh', ['-c', 'command -v dockerd']).status === 0;
  if (process.env.CI && engine)
    throw new Error(`dockerd is installed but no Docker engine answers in CI: ${info.stderr.trim()}`);
  return `no Docker engine answers (start one as root: dockerd >/tmp/dockerd.log 2>&1 &): ${info.stderr.trim().split('\n')[0]}`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
