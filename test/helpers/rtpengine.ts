import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { createNgClient, NgTimeoutError } from '../../src/media/index.js';

/** The rtpengine binary (Debian rtpengine-daemon), or VOXGATE_RTPENGINE; undefined when absent. */
export function findRtpengine(): string | undefined {
  const fromEnv = process.env.VOXGATE_RTPENGINE;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  const candidates = fromEnv ? [fromEnv] : dirs.map((dir) => join(dir, 'rtpengine'));
  return candidates.find((path) => existsSync(path));
}

/**
 * A port on 127.0.0.1 free now, drawn from 10000–19999: outside the kernel's ephemeral range (32768–60999)
 * and the RTP ranges tests give relays, so no socket bound to port 0 by a concurrent test can take it before the
 * caller binds it (a port got by binding 0 and closing was, now and then: EADDRINUSE at the caller's start).
 * `tryPort` binds the port, releases it and says whether it could.
 */
const DRAWN_FROM = 10000;
const DRAWN_BELOW = 20000;

async function drawFreePort(tryPort: (port: number) => Promise<boolean>): Promise<number> {
  for (;;) {
    const port = DRAWN_FROM + Math.floor(Math.random() * (DRAWN_BELOW - DRAWN_FROM));
    if (await tryPort(port)) return port;
  }
}

/** Whether UDP `port` on 127.0.0.1 can be bound now; the probe socket is released before this resolves. */
async function udpPortFree(port: number): Promise<boolean> {
  const socket = createSocket('udp4');
  const bound = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => resolve(true));
  });
  if (bound) {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return true;
  }
  try {
    socket.close();
  } catch {
    // already closed by its failed bind
  }
  return false;
}

/** A UDP port on 127.0.0.1 free now (see drawFreePort). */
export function freeUdpPort(): Promise<number> {
  return drawFreePort(udpPortFree);
}

/**
 * An even UDP port on 127.0.0.1 free now with the `count` - 1 ports after it (see drawFreePort): for a client
 * that binds RTP and RTCP (and video) from one base, as SIPp's -mp does.
 */
export function freeUdpPortRun(count: number): Promise<number> {
  return drawFreePort(async (port) => {
    if (port % 2 === 1 || port + count > DRAWN_BELOW) return false;
    for (let i = 0; i < count; i++) if (!(await udpPortFree(port + i))) return false;
    return true;
  });
}

/** A TCP port on 127.0.0.1 free now (see drawFreePort). */
export function freeTcpPort(): Promise<number> {
  return drawFreePort(async (port) => {
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) await new Promise<void>((resolve) => server.close(() => resolve()));
    return bound;
  });
}

export interface RtpengineProcess {
  readonly ngPort: number;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts a userspace RTPengine (`--table=-1`) on loopback and waits until it answers an ng ping. */
export async function startRtpengine(binary: string, ports = 200): Promise<RtpengineProcess> {
  const ngPort = await freeUdpPort();
  // Each anchored call takes two port pairs (one per side): `ports` / 4 calls at once.
  const portMin = ports > 1000 ? 20000 : 20000 + 2 * Math.floor(Math.random() * 4000);
  const child: ChildProcess = spawn(
    binary,
    [
      '--config-file=none',
      '--table=-1',
      '--interface=127.0.0.1',
      `--listen-ng=127.0.0.1:${ngPort}`,
      '--foreground',
      '--log-stderr',
      '--delete-delay=0',
      `--port-min=${portMin}`,
      `--port-max=${portMin + ports - 1}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  let exited = false;
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  child.on('exit', () => (exited = true));
  child.on('error', () => (exited = true));
  const probe = createNgClient({ host: '127.0.0.1', port: ngPort, timeoutMs: 100, retries: 0 });
  try {
    for (let attempt = 0; ; attempt++) {
      if (exited) throw new Error(`rtpengine exited during startup: ${stderr}`);
      try {
        await probe.ping();
        break;
      } catch (err) {
        if (!(err instanceof NgTimeoutError) || attempt >= 100) {
          throw new Error(`rtpengine did not answer ping: ${String(err)}\n${stderr}`, { cause: err });
        }
      }
    }
  } finally {
    await probe.close();
  }
  return {
    ngPort,
    stderr: () => stderr,
    async stop() {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      force.unref();
      await gone;
      clearTimeout(force);
    },
  };
}
