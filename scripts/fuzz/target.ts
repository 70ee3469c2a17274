import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  answerChallenge,
  buildRequest,
  buildResponse,
  headerValues,
  newTag,
  parseMessage,
  type SipHeader,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/index.js';
import { selfSigned } from '../../test/sip/support/self-signed.js';
import { ROAMER } from './dialogs.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** The built binary (`npm run build`): the fuzzer attacks what ships, not the sources through a loader. */
export const VOXGATE_BIN = join(ROOT, 'dist', 'src', 'bin', 'voxgate.js');

export interface TargetPorts {
  http: string;
  udp: number;
  tcp: number;
  tls: number;
  ws: number;
  wss: number;
  ng: number;
}

/** How the process ended, when it did not survive. */
export interface Death {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The child's stderr: Node prints an uncaught exception's stack there. */
  stderr: string;
  /** The last lines it logged (pino JSON on stdout). */
  logTail: string[];
}

async function freePort(kind: 'udp' | 'tcp'): Promise<number> {
  if (kind === 'udp') {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    const { port } = socket.address();
    await new Promise<void>((r) => socket.close(() => r()));
    return port;
  }
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * A callee for the fuzzed INVITEs, registered as the user the fuzzer's number rings. It turns most INVITEs down
 * at once (486), so that their anchored calls are deleted from the relay again; it answers some (180, then
 * 200 with SDP) so that the fuzzer has dialogs to send in-dialog requests into, and lets some ring (180 only)
 * so that the fuzzer can CANCEL them. Anything else gets 200 (a CANCEL also 487 to its INVITE).
 */
class Callee {
  private cseq = 1;
  private pending = new Map<string, (r: SipResponse) => void>();
  /** INVITEs left ringing, by Call-ID, for the 487 after a CANCEL. */
  private ringing = new Map<string, SipRequest>();
  invites = 0;

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
    private readonly gatewayPort: number,
  ) {
    const reply = (request: SipRequest, status: number, reason: string, body?: Buffer, toTag = newTag()) => {
      const extra: Record<string, string> = { Contact: `<sip:callee@127.0.0.1:${port}>` };
      if (body) extra['Content-Type'] = 'application/sdp';
      socket.send(buildResponse(request, status, reason, extra, body, toTag), gatewayPort, '127.0.0.1');
    };
    socket.on('message', (bytes) => {
      let message;
      try {
        message = parseMessage(bytes, { datagram: true });
      } catch {
        return;
      }
      if (message.kind === 'response') {
        this.pending.get(message.callId)?.(message);
        return;
      }
      if (message.method === 'ACK') return;
      if (message.method === 'CANCEL') {
        reply(message, 200, 'OK');
        const invite = this.ringing.get(message.callId);
        this.ringing.delete(message.callId);
        if (invite) reply(invite, 487, 'Request Terminated');
        return;
      }
      if (message.method !== 'INVITE' || message.toTag) {
        const answer = message.method === 'INVITE' ? sdpAnswer(port) : undefined;
        reply(message, 200, 'OK', answer, message.toTag);
        return;
      }
      this.invites++;
      const policy = this.invites % 8;
      if (policy < 5) return reply(message, 486, 'Busy Here');
      const tag = newTag();
      reply(message, 180, 'Ringing', undefined, tag);
      if (policy < 7) return reply(message, 200, 'OK', sdpAnswer(port), tag);
      this.ringing.set(message.callId, message);
      if (this.ringing.size > 1000) this.ringing.delete(this.ringing.keys().next().value!);
    });
  }

  static async open(gatewayPort: number): Promise<Callee> {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    return new Callee(socket, socket.address().port, gatewayPort);
  }

  async register(user: string, password: string, domain: string): Promise<number> {
    const callId = randomBytes(8).toString('hex');
    const uri = `sip:${domain}`;
    const build = (extra: SipHeader[]) =>
      buildRequest('REGISTER', uri, [
        { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${newTag()};rport` },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `<sip:${user}@${domain}>;tag=${newTag()}` },
        { name: 'To', value: `<sip:${user}@${domain}>` },
        { name: 'Call-ID', value: callId },
        { name: 'CSeq', value: `${this.cseq++} REGISTER` },
        { name: 'Contact', value: `<sip:${user}@127.0.0.1:${this.port}>` },
        { name: 'Expires', value: '3600' },
        ...extra,
      ]);
    const response = (accept: (s: number) => boolean) =>
      new Promise<SipResponse>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('REGISTER: no answer')), 5000);
        this.pending.set(callId, (r) => {
          if (!accept(r.status)) return;
          clearTimeout(timer);
          this.pending.delete(callId);
          resolve(r);
        });
      });
    let waiting = response((s) => s >= 200);
    this.socket.send(build([]), this.gatewayPort, '127.0.0.1');
    const challenge = await waiting;
    if (challenge.status !== 401) return challenge.status;
    const answer = answerChallenge({
      challenges: headerValues(challenge, 'WWW-Authenticate'),
      method: 'REGISTER',
      uri,
      username: user,
      password,
    });
    if (!answer) throw new Error('REGISTER: no usable challenge');
    waiting = response((s) => s >= 200);
    this.socket.send(
      build([{ name: 'Authorization', value: answer.authorization }]),
      this.gatewayPort,
      '127.0.0.1',
    );
    return (await waiting).status;
  }

  close(): void {
    this.socket.close();
  }
}

function sdpAnswer(port: number): Buffer {
  return Buffer.from(
    [
      'v=0',
      'o=callee 1 1 IN IP4 127.0.0.1',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${port + 1} RTP/AVP 0`,
      '',
    ].join('\r\n'),
  );
}

export const FUZZ_DOMAIN = 'fuzz.example';
export const FUZZ_DID = '+15550100';
/** The number of the user the fuzz registers with fuzzed Contacts. */
export const FUZZ_ROAMER_DID = '+15550101';

/**
 * An all-in-one `voxgate` (api + sip-gateway + media-relay + worker) on loopback with every listener the
 * fuzzer attacks: SIP over UDP, TCP, TLS (throwaway self-signed certificate), WS and WSS, and the relay's ng
 * port. Provisioned so that fuzzed INVITEs reach the relay: a trunk whose inbound CIDR is 127.0.0.0/8 (every
 * fuzzed message comes from there), and a number of that tenant assigned to a user registered by `Callee`.
 */
export class VoxgateTarget {
  private readonly logTail: string[] = [];
  private stderr = '';
  private exited?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly exitWaiters: (() => void)[] = [];

  private constructor(
    readonly child: ChildProcess,
    private readonly dir: string,
    private readonly callee: { current?: Callee },
    readonly ports: TargetPorts,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exited === undefined;
  }

  /** Fuzzed INVITEs the callee was offered (each went through the relay's offer first). */
  get invitesReachingCallee(): number {
    return this.callee.current?.invites ?? 0;
  }

  death(): Death | undefined {
    if (!this.exited) return undefined;
    return { ...this.exited, stderr: this.stderr, logTail: [...this.logTail] };
  }

  /** Resolves once the process has exited (immediately when it has). */
  whenExited(): Promise<void> {
    return this.exited ? Promise.resolve() : new Promise((r) => this.exitWaiters.push(r));
  }

  /** Starts a target; a start that fails (a free port taken in the meantime: EADDRINUSE) is tried again. */
  static async start(options: { bin?: string; logLevel?: string } = {}): Promise<VoxgateTarget> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await VoxgateTarget.startOnce(options);
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  }

  private static async startOnce(options: { bin?: string; logLevel?: string }): Promise<VoxgateTarget> {
    const bin = options.bin ?? VOXGATE_BIN;
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build\` first`);
    const dir = await mkdtemp(join(tmpdir(), 'voxgate-fuzz-'));
    const pair = selfSigned();
    await writeFile(join(dir, 'key.pem'), pair.key);
    await writeFile(join(dir, 'cert.pem'), pair.cert);
    const key = `vxg_fuzz${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;
    const [ng, ws, wss] = [await freePort('udp'), await freePort('tcp'), await freePort('tcp')];
    const rtpMin = 20_000 + 2 * Math.floor(Math.random() * 10_000);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VOXGATE_')) env[k] = v;
    Object.assign(env, {
      VOXGATE_DATA_DIR: join(dir, 'data'),
      VOXGATE_LOG_LEVEL: options.logLevel ?? 'info',
      VOXGATE_SIP_HOST: '127.0.0.1',
      VOXGATE_SIP_PORT: '0',
      VOXGATE_SIP_TLS_PORT: '0',
      VOXGATE_SIP_TLS_CERT: join(dir, 'cert.pem'),
      VOXGATE_SIP_TLS_KEY: join(dir, 'key.pem'),
      VOXGATE_SIP_WS_PORT: String(ws),
      VOXGATE_SIP_WSS_PORT: String(wss),
      VOXGATE_API_HOST: '127.0.0.1',
      VOXGATE_API_PORT: '0',
      VOXGATE_API_RATE_LIMIT_PER_MINUTE: '100000',
      VOXGATE_MEDIA_NG: `127.0.0.1:${ng}`,
      VOXGATE_RTP_PORT_MIN: String(rtpMin),
      VOXGATE_RTP_PORT_MAX: String(rtpMin + 3999),
      VOXGATE_SHUTDOWN_GRACE_SECONDS: '2',
      // Calls the fuzz leaves ringing or answered end soon, with their relay ports.
      VOXGATE_CALL_RING_TIMEOUT_SECONDS: '5',
      // Bindings with fuzzed Contacts are pinged soon.
      VOXGATE_SIP_KEEPALIVE_SECONDS: '5',
      VOXGATE_CALL_MAX_DURATION_SECONDS: '10',
      VOXGATE_CALL_MEDIA_TIMEOUT_SECONDS: '5',
      VOXGATE_MEDIA_TIMEOUT_SECONDS: '10',
      VOXGATE_ADMIN_API_KEY: key,
    });
    const child = spawn(process.execPath, [bin, '--target=all'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const callee: { current?: Callee } = {};
    const live: { target?: VoxgateTarget } = {};
    const started: Record<string, unknown>[] = [];
    let early = '';
    const ready = new Promise<void>((resolveStart, reject) => {
      const timer = setTimeout(() => reject(new Error(`voxgate did not start: ${early}`)), 60_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const target = live.target;
        if (target) {
          target.logTail.push(line);
          if (target.logTail.length > 50) target.logTail.shift();
          return;
        }
        try {
          started.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          return;
        }
        if (started.at(-1)?.msg === 'voxgate started') {
          clearTimeout(timer);
          resolveStart();
        }
      });
      child.stderr!.on('data', (d: Buffer) => {
        const target = live.target;
        if (target) target.stderr = (target.stderr + d.toString()).slice(-64_000);
        else early += d.toString();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`voxgate exited with ${code} before it started: ${early}`));
      });
    });
    try {
      await ready;
    } catch (err) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    const find = (msg: string) => started.find((l) => l.msg === msg);
    const sip = find('SIP listening') as { udp: number; tcp: number; tls: number };
    const ports: TargetPorts = {
      http: find('HTTP listening')?.address as string,
      udp: sip.udp,
      tcp: sip.tcp,
      tls: sip.tls,
      ws,
      wss,
      ng,
    };
    const t = new VoxgateTarget(child, dir, callee, ports);
    t.stderr = early;
    live.target = t;
    child.on('exit', (code, signal) => {
      t.exited = { code, signal };
      for (const w of t.exitWaiters.splice(0)) w();
    });
    try {
      await t.provision(key);
    } catch (err) {
      await t.stop();
      throw err;
    }
    return t;
  }

  private async provision(key: string): Promise<void> {
    const api = async (path: string, body: unknown) => {
      const res = await fetch(`${this.ports.http}/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, unknown>;
      if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const callee = await Callee.open(this.ports.udp);
    this.callee.current = callee;
    const tenant = (await api('/tenants', { name: 'Fuzz', sipDomain: FUZZ_DOMAIN })).id as string;
    const user = (await api(`/tenants/${tenant}/users`, { username: 'callee', password: 'callee-pass' }))
      .id as string;
    await api(`/tenants/${tenant}/numbers`, { e164: FUZZ_DID, userId: user });
    // The user the fuzz registers itself, with fuzzed Contacts; calls to its number fork to them.
    const roamer = (
      await api(`/tenants/${tenant}/users`, { username: ROAMER.user, password: ROAMER.password })
    ).id as string;
    await api(`/tenants/${tenant}/numbers`, { e164: FUZZ_ROAMER_DID, userId: roamer });
    await api(`/tenants/${tenant}/trunks`, {
      name: 'loopback',
      host: '127.0.0.1',
      port: callee.port,
      transport: 'udp',
      inboundCidrs: ['127.0.0.0/8'],
    });
    const status = await callee.register('callee', 'callee-pass', FUZZ_DOMAIN);
    if (status !== 200) throw new Error(`the callee's REGISTER got ${status}`);
  }

  /** Resident set size from /proc/<pid>/status, in bytes (undefined where /proc is not available). */
  async rssBytes(): Promise<number | undefined> {
    try {
      const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
      const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
      return kb === undefined ? undefined : Number(kb) * 1024;
    } catch {
      return undefined;
    }
  }

  /** `voxgate_calls_active` summed over its labels (undefined when /metrics does not answer). */
  async activeCalls(): Promise<number | undefined> {
    try {
      const res = await fetch(`${this.ports.http}/metrics`, { signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      return [...text.matchAll(/^voxgate_calls_active(?:\{[^}]*\})? (\S+)$/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    } catch {
      return undefined;
    }
  }

  /** `GET /healthz`'s status (0 when the request fails). */
  async healthz(): Promise<number> {
    try {
      const res = await fetch(`${this.ports.http}/healthz`, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  /** A well-formed OPTIONS over UDP (three tries): the final status, or undefined without one. */
  async options(): Promise<number | undefined> {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const callId = `${randomBytes(8).toString('hex')}@health`;
        const request = buildRequest('OPTIONS', `sip:127.0.0.1:${this.ports.udp}`, [
          {
            name: 'Via',
            value: `SIP/2.0/UDP 127.0.0.1:${socket.address().port};branch=z9hG4bK${newTag()};rport`,
          },
          { name: 'Max-Forwards', value: '70' },
          { name: 'From', value: `<sip:health@${FUZZ_DOMAIN}>;tag=${newTag()}` },
          { name: 'To', value: `<sip:127.0.0.1:${this.ports.udp}>` },
          { name: 'Call-ID', value: callId },
          { name: 'CSeq', value: '1 OPTIONS' },
        ]);
        const status = await new Promise<number | undefined>((resolveStatus) => {
          const timer = setTimeout(() => {
            socket.removeListener('message', onMessage);
            resolveStatus(undefined);
          }, 3000);
          const onMessage = (bytes: Buffer) => {
            try {
              const m = parseMessage(bytes, { datagram: true });
              if (m.kind !== 'response' || m.callId !== callId || m.status < 200) return;
              clearTimeout(timer);
              socket.removeListener('message', onMessage);
              resolveStatus(m.status);
            } catch {
              // not ours
            }
          };
          socket.on('message', onMessage);
          socket.send(request, this.ports.udp, '127.0.0.1');
        });
        if (status !== undefined) return status;
      }
      return undefined;
    } finally {
      socket.close();
    }
  }

  /** SIGTERM (SIGKILL after 10 s), then the temporary folder goes. Resolves with the exit code. */
  async stop(): Promise<number | null> {
    this.callee.current?.close();
    this.callee.current = undefined;
    if (this.alive) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.whenExited();
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
    return this.exited?.code ?? null;
  }
}
