import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';
import {
  createNgClient,
  formatNgMessage,
  parseNgMessage,
  type BencodeValue,
  type NgDictionary,
} from '../../../src/media/index.js';
import { ACCOUNTS, DOMAIN, account } from './accounts.js';
import { writeTlsFiles } from './tls-files.js';
import type { SipServer } from './types.js';

const CONFIG = fileURLToPath(new URL('../fixtures/kamailio-reference.cfg', import.meta.url));
const ADDRESS = '127.0.0.1';
/** SIP over UDP and TCP, and over TLS: voxgate keeps 5060/5061 in the same namespace (both may run at once). */
const SIP_PORT = 5080;
const TLS_PORT = 5081;
/** SIP over a plain WebSocket (RFC 7118; Kamailio's websocket and xhttp modules on a TCP listener). */
const WS_PORT = 5082;
const NG_PORT = 2223;
/** voxgate's relay uses 30000-40000 and the far end 50000-59999. */
const RTP_PORTS: readonly [number, number] = [42000, 43999];
/**
 * With voxgate's relay in RTPengine's place: its ng port (Kamailio reaches it through a tap on NG_PORT that
 * keeps every command and reply in the log), its RTP ports and its HTTP port (/metrics).
 */
const VOXGATE_RELAY_NG_PORT = 2224;
const VOXGATE_RELAY_RTP_PORTS: readonly [number, number] = [44000, 45999];
const VOXGATE_RELAY_HTTP_PORT = 8091;
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const START_MS = 20_000;

/** The media relay Kamailio's rtpengine module drives: RTPengine, or voxgate's relay (`--target=media-relay`). */
export type ReferenceRelay = 'rtpengine' | 'voxgate';

/**
 * The reference the interop suite compares voxgate with: Kamailio 5.6 + RTPengine as an operator deploys them
 * in front of phones (test/interop/fixtures/kamailio-reference.cfg) — registrar for the suite's domain with
 * MD5 digest (qop=auth) over UDP, TCP, TLS and WebSocket, a record-routing proxy that authenticates its users'
 * INVITEs (407), finds the callee (404 when not registered) and anchors every call's media on a userspace
 * RTPengine (with the WebRTC flags — ICE, DTLS-SRTP, rtcp-mux — towards a browser registered over the
 * WebSocket).
 * Both run in the foreground with their logs kept for `logTail()`. The accounts are those of accounts.ts, put
 * into a Kamailio htable at start (no database).
 *
 * With `relay: 'voxgate'` the same Kamailio and configuration drive voxgate's media relay instead of RTPengine
 * (the built binary with `--target=media-relay`, server name 'kamailio+voxgate-relay'): the ng commands
 * Kamailio sends with the configuration's flags, and the relay's replies, are kept in the log.
 */
export async function startReference(options: { relay?: ReferenceRelay } = {}): Promise<SipServer> {
  const relay = options.relay ?? 'rtpengine';
  const kamailioBin = findBinary('kamailio');
  const rtpengineBin = relay === 'rtpengine' ? findBinary('rtpengine') : undefined;
  const voxgateBin = join(ROOT, 'dist/src/bin/voxgate.js');
  if (relay === 'voxgate' && !existsSync(voxgateBin))
    throw new Error(`reference: ${voxgateBin} is not built (npm run build)`);
  const description = rtpengineBin
    ? `Kamailio ${kamailioVersion(kamailioBin)} + RTPengine ${rtpengineVersion(rtpengineBin)}`
    : `Kamailio ${kamailioVersion(kamailioBin)} with the reference's configuration, its rtpengine module ` +
      `driving ${voxgateVersion(voxgateBin)}'s media relay (\`voxgate --target=media-relay\`, RTP ` +
      `${VOXGATE_RELAY_RTP_PORTS.join('-')}) in RTPengine's place`;
  const rtpPorts = rtpengineBin ? RTP_PORTS : VOXGATE_RELAY_RTP_PORTS;

  const work = await mkdtemp(join(tmpdir(), 'interop-reference-'));
  const tls = writeTlsFiles(join(work, 'tls'), DOMAIN);
  const cfg = join(work, 'kamailio.cfg');
  await copyFile(CONFIG, cfg);
  await writeFile(join(work, 'accounts.cfg'), accountsCfg());

  const log: string[] = [];
  const keep = (line: string) => {
    log.push(line);
    if (log.length > 5000) log.splice(0, log.length - 5000);
  };
  const logTail = (n = 80) => log.slice(-n).join('\n');
  const processes: Daemon[] = [];
  let tap: NgTap | undefined;
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    tap?.close();
    if (process.env.VOXGATE_INTEROP_KEEP === '1') {
      // The whole log (with the ng commands when voxgate's relay runs) kept for a look, as the work dirs are.
      const kept = `${work}.log`;
      await writeFile(kept, `${log.join('\n')}\n`);
      console.error(`interop: kept ${kept}`);
    }
    await rm(work, { recursive: true, force: true });
  };

  try {
    if (!rtpengineBin) {
      const voxgate = daemon(
        'voxgate-relay',
        process.execPath,
        [voxgateBin, '--target=media-relay'],
        work,
        keep,
        voxgateRelayEnv(join(work, 'voxgate-data')),
      );
      processes.push(voxgate);
      await waitReady('voxgate-relay', voxgate, () => pingNg(VOXGATE_RELAY_NG_PORT));
      tap = await ngTap(NG_PORT, VOXGATE_RELAY_NG_PORT, keep);
    } else {
      const rtpengine = daemon(
        'rtpengine',
        rtpengineBin,
        [
          '--config-file=none',
          '--table=-1',
          `--interface=${ADDRESS}`,
          `--listen-ng=${ADDRESS}:${NG_PORT}`,
          '--foreground',
          '--log-stderr',
          '--log-level=6',
          '--delete-delay=0',
          `--port-min=${RTP_PORTS[0]}`,
          `--port-max=${RTP_PORTS[1]}`,
        ],
        work,
        keep,
      );
      processes.push(rtpengine);
      await waitReady('rtpengine', rtpengine, () => pingNg(NG_PORT));
    }

    const kamailio = daemon(
      'kamailio',
      kamailioBin,
      [
        '-f',
        cfg,
        // Foreground main process (-DD) with its workers, logging to stderr (-E).
        '-DD',
        '-E',
        '-m',
        '64',
        '-M',
        '8',
        '-l',
        `udp:${ADDRESS}:${SIP_PORT}`,
        '-l',
        `tcp:${ADDRESS}:${SIP_PORT}`,
        '-l',
        `tls:${ADDRESS}:${TLS_PORT}`,
        '-l',
        `tcp:${ADDRESS}:${WS_PORT}`,
        '-A',
        `DOMAIN="${DOMAIN}"`,
        '-A',
        `WS_PORT=${WS_PORT}`,
        '-A',
        `RTPENGINE_SOCK="udp:${ADDRESS}:${NG_PORT}"`,
        '-A',
        `TLS_CERT="${tls.certFile}"`,
        '-A',
        `TLS_KEY="${tls.keyFile}"`,
        '-P',
        join(work, 'kamailio.pid'),
        '-Y',
        work,
        '-w',
        work,
      ],
      work,
      keep,
    );
    processes.push(kamailio);
    await waitReady('kamailio', kamailio, async () => {
      await sipOptions();
      await tcpOpens();
      await tlsOpens(tls.certFile);
      await webSocketOpens();
    });
  } catch (err) {
    const tail = logTail(200);
    await stop();
    throw new Error(`reference: ${err instanceof Error ? err.message : String(err)}\n${tail}`, {
      cause: err,
    });
  }

  return {
    name: rtpengineBin ? 'reference' : 'kamailio+voxgate-relay',
    description,
    domain: DOMAIN,
    address: ADDRESS,
    ports: { udp: SIP_PORT, tcp: SIP_PORT, tls: TLS_PORT, ws: WS_PORT },
    caFile: tls.certFile,
    rtpPorts,
    account,
    ...(rtpengineBin
      ? {}
      : {
          metrics: async () => {
            const res = await fetch(`http://${ADDRESS}:${VOXGATE_RELAY_HTTP_PORT}/metrics`);
            if (!res.ok) throw new Error(`voxgate relay /metrics: ${res.status}`);
            return res.text();
          },
        }),
    logTail,
    stop,
  };
}

/** The htable's content: one `$sht(users=>name) = "password";` per account (included by the config). */
function accountsCfg(): string {
  const lines = Object.values(ACCOUNTS).map((a) => {
    if (!/^[A-Za-z0-9._-]+$/.test(a.username)) {
      throw new Error(`reference: username ${a.username} cannot be an htable key`);
    }
    const password = a.password.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    return `$sht(users=>${a.username}) = "${password}";`;
  });
  return `${lines.join('\n')}\n`;
}

interface Daemon {
  readonly name: string;
  exited(): boolean;
  /** Resolves when the process has exited. */
  readonly gone: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Spawns `bin` as the leader of its own process group (Kamailio forks workers: a SIGKILL of the main process
 * alone would leave them), its stdout and stderr lines kept in the log with the daemon's name.
 */
function daemon(
  name: string,
  bin: string,
  args: string[],
  cwd: string,
  keep: (line: string) => void,
  env?: NodeJS.ProcessEnv,
): Daemon {
  const child: ChildProcess = spawn(bin, args, {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(env ? { env } : {}),
  });
  let exited = false;
  const gone = new Promise<void>((resolve) => {
    const done = (why: string) => {
      if (exited) return;
      exited = true;
      keep(`${name}: ${why}`);
      resolve();
    };
    child.on('exit', (code, signal) => done(`exited (${signal ?? `code ${String(code)}`})`));
    child.on('error', (err) => done(`failed to run ${bin}: ${err.message}`));
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => keep(`${name}: ${line}`));
  }
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined || exited) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // ESRCH: the group has no process left.
    }
  };
  // A test process that ends without stop() (a crash, a test timeout) does not leave the daemons running.
  const onExit = () => signalGroup('SIGKILL');
  process.once('exit', onExit);
  void gone.then(() => process.off('exit', onExit));
  return {
    name,
    exited: () => exited,
    gone,
    async stop() {
      if (exited) return;
      // Kamailio's main process ends its workers on SIGTERM; when it does not exit in time, the whole group
      // (main and workers) is killed.
      child.kill('SIGTERM');
      const force = setTimeout(() => signalGroup('SIGKILL'), 5000);
      await gone;
      clearTimeout(force);
    },
  };
}

/** Retries `probe` until it succeeds; rejects when the daemon exits or START_MS passes. */
async function waitReady(name: string, d: Daemon, probe: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + START_MS;
  let last: unknown;
  for (;;) {
    if (d.exited()) throw new Error(`${name} exited during startup`);
    if (Date.now() > deadline) {
      throw new Error(
        `${name} not ready within ${START_MS} ms: ${last instanceof Error ? last.message : ''}`,
      );
    }
    try {
      await probe();
      return;
    } catch (err) {
      last = err;
      await Promise.race([new Promise((r) => setTimeout(r, 200)), d.gone]);
    }
  }
}

/**
 * voxgate's relay alone on its defaults but for what this namespace needs: its ng address, its own RTP and
 * HTTP ports (voxgate's server of the suite keeps 30000-40000 and 8080), a data folder of its own and a short
 * shutdown grace.
 */
function voxgateRelayEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VOXGATE_')) env[k] = v;
  return {
    ...env,
    VOXGATE_DATA_DIR: dataDir,
    VOXGATE_MEDIA_NG: `${ADDRESS}:${VOXGATE_RELAY_NG_PORT}`,
    VOXGATE_RTP_PORT_MIN: String(VOXGATE_RELAY_RTP_PORTS[0]),
    VOXGATE_RTP_PORT_MAX: String(VOXGATE_RELAY_RTP_PORTS[1]),
    VOXGATE_API_HOST: ADDRESS,
    VOXGATE_API_PORT: String(VOXGATE_RELAY_HTTP_PORT),
    VOXGATE_SHUTDOWN_GRACE_SECONDS: '2',
  };
}

interface NgTap {
  close(): void;
}

/**
 * A UDP forwarder between Kamailio's rtpengine module (on `port`) and the relay (on `relayPort`) that keeps
 * each ng command and its reply in the log — the flags as Kamailio turned them into ng keys, and what the
 * relay answered (a refusal's error-reason, a warning) — since voxgate's relay does not log its commands.
 */
async function ngTap(port: number, relayPort: number, keep: (line: string) => void): Promise<NgTap> {
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  const senders = new Map<string, { address: string; port: number; command: string }>();
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.bind(port, ADDRESS, () => resolve());
  });
  await new Promise<void>((resolve) => back.bind(0, ADDRESS, () => resolve()));
  front.on('message', (msg, from) => {
    try {
      const { cookie, body } = parseNgMessage(msg);
      const command = typeof body.command === 'string' ? body.command : '?';
      senders.set(cookie, { address: from.address, port: from.port, command });
      if (command !== 'ping') keep(`ng → ${command} ${describeNg(body)}`);
    } catch {
      keep(`ng → (unparsable, ${msg.length} bytes)`);
    }
    back.send(msg, relayPort, ADDRESS);
  });
  back.on('message', (msg) => {
    try {
      const { cookie, body } = parseNgMessage(msg);
      const to = senders.get(cookie);
      if (!to) return;
      if (to.command !== 'ping') keep(`ng ← ${to.command}: ${describeNg(body)}`);
      front.send(formatNgMessage(cookie, body), to.port, to.address);
    } catch {
      keep(`ng ← (unparsable, ${msg.length} bytes)`);
    }
  });
  return {
    close() {
      front.close();
      back.close();
    },
  };
}

/** An ng dictionary on one log line, its SDP with `\r\n` shown as ` | `. */
function describeNg(body: NgDictionary): string {
  const show = (v: BencodeValue): unknown =>
    Buffer.isBuffer(v)
      ? `<${v.length} bytes>`
      : Array.isArray(v)
        ? v.map(show)
        : typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, show(x)]))
          : v;
  const shown = show(body) as Record<string, unknown>;
  if (typeof shown.sdp === 'string') shown.sdp = shown.sdp.replace(/\r?\n/g, ' | ');
  return JSON.stringify(shown);
}

async function pingNg(port: number): Promise<void> {
  const ng = createNgClient({ host: ADDRESS, port, timeoutMs: 200, retries: 0 });
  try {
    await ng.ping();
  } finally {
    await ng.close();
  }
}

/** An OPTIONS to the server over UDP, answered 200 (Kamailio's workers are up). */
function sipOptions(): Promise<void> {
  const socket = createSocket('udp4');
  const tag = randomBytes(6).toString('hex');
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error('no answer to OPTIONS')), 500);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve();
    };
    socket.on('error', (err) => finish(err));
    socket.on('message', (msg) => {
      const status = /^SIP\/2\.0 (\d{3})/.exec(msg.toString('latin1'))?.[1];
      if (status === '200') finish();
      else finish(new Error(`OPTIONS answered ${status ?? 'with garbage'}`));
    });
    socket.bind(0, ADDRESS, () => {
      const port = socket.address().port;
      const request = [
        `OPTIONS sip:${ADDRESS}:${SIP_PORT} SIP/2.0`,
        `Via: SIP/2.0/UDP ${ADDRESS}:${port};branch=z9hG4bK${tag};rport`,
        'Max-Forwards: 70',
        `From: <sip:probe@${ADDRESS}>;tag=${tag}`,
        `To: <sip:${ADDRESS}:${SIP_PORT}>`,
        `Call-ID: probe-${tag}`,
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      socket.send(request, SIP_PORT, ADDRESS);
    });
  });
}

function tcpOpens(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: ADDRESS, port: SIP_PORT }, () => {
      socket.destroy();
      resolve();
    });
    socket.on('error', reject);
  });
}

/** A TLS handshake with the SIP TLS port, verifying the certificate against the one written for it. */
function tlsOpens(caFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: ADDRESS, port: TLS_PORT, ca: readFileSync(caFile) }, () => {
      socket.destroy();
      resolve();
    });
    socket.on('error', reject);
  });
}

/** A WebSocket upgrade with subprotocol `sip` on the WS port, answered 101 (websocket module loaded). */
function webSocketOpens(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: ADDRESS, port: WS_PORT }, () => {
      socket.write(
        [
          'GET / HTTP/1.1',
          `Host: ${ADDRESS}:${WS_PORT}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
          'Sec-WebSocket-Version: 13',
          'Sec-WebSocket-Protocol: sip',
          '',
          '',
        ].join('\r\n'),
      );
    });
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n')) return;
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
      if (status === '101') resolve();
      else reject(new Error(`WebSocket upgrade answered ${status ?? 'with garbage'}`));
    });
    socket.on('error', reject);
  });
}

function findBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/sbin'];
  const found = dirs
    .filter(Boolean)
    .map((dir) => join(dir, name))
    .find((path) => existsSync(path));
  if (!found) throw new Error(`reference: ${name} is not installed (Debian package ${name})`);
  return found;
}

/** What `bin arg` prints on stdout and stderr (rtpengine prints its version on stderr). */
function output(bin: string, arg: string): string {
  const run = spawnSync(bin, [arg], { encoding: 'utf8', timeout: 10_000 });
  return `${run.stdout}${run.stderr}`;
}

/** "5.6.3" from `kamailio -v` ("version: kamailio 5.6.3 (x86_64/linux)"). */
function kamailioVersion(bin: string): string {
  return /kamailio (\S+)/.exec(output(bin, '-v'))?.[1] ?? 'unknown version';
}

/** "voxgate 0.1.0" from `voxgate --version`. */
function voxgateVersion(bin: string): string {
  const run = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 10_000 });
  return `voxgate ${run.stdout.trim()}`.trim();
}

/** "10.5.3.5" from `rtpengine --version` ("Version: 10.5.3.5-1+deb12u1"; the Debian revision dropped). */
function rtpengineVersion(bin: string): string {
  const full = /Version:\s*(\S+)/i.exec(output(bin, '--version'))?.[1];
  return full ? full.replace(/-[^-]*$/, '') : 'unknown version';
}
