// The baresip driver of the interop suite: a `Softphone` for baresip 1.0 (Debian `baresip-core`, libre stack)
// run headless — its config folder (config, accounts) and HOME in the workDir, aufile as the microphone,
// sndfile recording what it decodes, ctrl_tcp for JSON netstring commands and events — and the config sample
// the suite reports for it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, createConnection, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ClientOptions, SipServer, Softphone, Transport } from '../lib/types.js';

/** How long baresip gets for each step (registration, an answer, a hang-up) before the driver gives up. */
const STEP_MS = 15_000;

/** SIP ports baresip may listen on (UDP and TCP on the port, TLS on the port + 1), away from every relay range. */
const SIP_PORTS: readonly [number, number] = [15060, 15998];
/** ctrl_tcp ports. */
const CTRL_PORTS: readonly [number, number] = [14444, 14999];
/** baresip's own RTP ports: below voxgate's relay (30000-40000) and the reference's (42000-43999). */
const RTP_PORTS = '20000-20999';

/**
 * baresip's media encryption (its `mediaenc` account parameter): with module srtp.so, `srtp-mand` offers
 * RTP/SAVP with a=crypto and refuses (488) an offer without SRTP, `srtp` offers RTP/AVP with a=crypto (best
 * effort); with module dtls_srtp.so, `dtls_srtp` offers DTLS-SRTP (RFC 5763/5764: UDP/TLS/RTP/SAVPF with its
 * certificate's fingerprint and a=setup).
 */
export type BaresipMediaEnc = 'srtp-mand' | 'srtp' | 'dtls_srtp';

/** The module a `mediaenc` needs loaded. */
export function mediaEncModule(mediaenc: BaresipMediaEnc): string {
  return mediaenc === 'dtls_srtp' ? 'dtls_srtp.so' : 'srtp.so';
}

/** What a `Baresip` driver is made with; none of it is set for the suite's plain baresip. */
export interface BaresipOptions {
  /** Media encryption of the account (`;mediaenc=…`); plain RTP when absent. */
  readonly mediaenc?: BaresipMediaEnc;
}

/** One SIP message of baresip's trace (`-s`): who sent it to whom, its start line, headers and body. */
export interface BaresipTracedMessage {
  /** "127.0.0.1:5061": the sender's address and port as baresip printed them. */
  readonly from: string;
  readonly to: string;
  /** "TLS", "TCP", "UDP". */
  readonly transport: string;
  /** "INVITE sip:… SIP/2.0" or "SIP/2.0 200 OK". */
  readonly startLine: string;
  readonly headers: readonly string[];
  /** The body's lines joined with CRLF ("" when there is none). */
  readonly body: string;
}

/** One message of ctrl_tcp: an event (`event: true`) or the response to a command (`response: true`). */
interface CtrlMessage {
  readonly event?: boolean;
  readonly response?: boolean;
  readonly type?: string;
  readonly class?: string;
  readonly direction?: string;
  readonly accountaor?: string;
  readonly peeruri?: string;
  readonly id?: string;
  readonly param?: string;
  readonly ok?: boolean;
  readonly data?: string;
  readonly token?: string;
}

/** The `config` file: what baresip needs headless, nothing more. */
export function baresipConfig(opts: {
  readonly sipPort: number;
  readonly ctrlPort: number;
  readonly toneFile: string;
  readonly recordDir: string;
  readonly caFile?: string;
  /** The media encryption module to load (srtp.so or dtls_srtp.so, as the account's `mediaenc` needs). */
  readonly mediaEncModule?: string;
}): string {
  return [
    'poll_method\t\tepoll',
    `sip_listen\t\t127.0.0.1:${opts.sipPort}`,
    ...(opts.caFile ? [`sip_cafile\t\t${opts.caFile}`] : []),
    'net_interface\t\t127.0.0.1',
    'call_local_timeout\t120',
    'call_max_calls\t\t4',
    // The tone file is the microphone; ALSA's null device plays what arrives (sndfile records it first).
    `audio_source\t\taufile,${opts.toneFile}`,
    'audio_player\t\talsa,null',
    'audio_alert\t\talsa,null',
    `rtp_ports\t\t${RTP_PORTS}`,
    'module_path\t\t/usr/lib/baresip/modules',
    'module\t\t\tg711.so',
    'module\t\t\taufile.so',
    'module\t\t\talsa.so',
    'module\t\t\tsndfile.so',
    ...(opts.mediaEncModule ? [`module\t\t\t${opts.mediaEncModule}`] : []),
    'module_tmp\t\taccount.so',
    'module_app\t\tmenu.so',
    'module_app\t\tctrl_tcp.so',
    `ctrl_tcp_listen\t\t127.0.0.1:${opts.ctrlPort}`,
    `snd_path\t\t${opts.recordDir}`,
    '',
  ].join('\n');
}

/**
 * The `accounts` line: the AOR with its transport, the password, the server as outbound proxy, auto-answer,
 * and the media encryption when one is given.
 */
export function baresipAccount(
  server: SipServer,
  transport: Transport,
  username: string,
  password: string,
  mediaenc?: BaresipMediaEnc,
): string {
  const outbound = `sip:${server.address}:${server.ports[transport]};transport=${transport}`;
  const encryption = mediaenc ? `;mediaenc=${mediaenc}` : '';
  return `<sip:${username}@${server.domain};transport=${transport}>;auth_pass=${password};outbound="${outbound}";answermode=auto;regint=600${encryption}\n`;
}

/** The config sample for docs/interop.md: the lines of `config` and `accounts` that matter for this server. */
export function baresipConfigSample(
  server: SipServer,
  transport: Transport,
  mediaenc?: BaresipMediaEnc,
): string {
  const account = server.account('alice');
  return [
    '# ~/.baresip/config (excerpt)',
    'sip_listen\t\t127.0.0.1:15060',
    ...(transport === 'tls'
      ? ['sip_cafile\t\t/path/to/server-ca.pem\t# loaded, but baresip 1.0 does not verify the server']
      : []),
    'module\t\t\tg711.so',
    ...(mediaenc ? [`module\t\t\t${mediaEncModule(mediaenc)}`] : []),
    'module_tmp\t\taccount.so',
    '',
    '# ~/.baresip/accounts',
    baresipAccount(server, transport, account.username, '<password>', mediaenc).trimEnd(),
  ].join('\n');
}

export class Baresip implements Softphone {
  readonly name = 'baresip';
  readonly stack = 'libre';
  version = '';

  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private ctrl: Socket | undefined;
  private ctrlBuffer = Buffer.alloc(0);
  private readonly log: string[] = [];
  private readonly events: CtrlMessage[] = [];
  private readonly responses = new Map<string, (m: CtrlMessage) => void>();
  private changed: (() => void)[] = [];
  private tokens = 0;
  /** Index in `events` where the current (or last) call's CALL_ESTABLISHED is. */
  private callStart = -1;
  /** The file sndfile wrote the decoded audio of the last call to. */
  private lastDecoded: string | undefined;
  private exitCode: number | null | undefined;

  constructor(private readonly options: BaresipOptions = {}) {}

  async start(options: ClientOptions): Promise<void> {
    const { server, transport, account, workDir, toneFile } = options;
    const configDir = join(workDir, '.baresip');
    const recordDir = join(workDir, 'recordings');
    mkdirSync(configDir, { recursive: true });
    mkdirSync(recordDir, { recursive: true });
    const sipPort = await freePort(SIP_PORTS, 2);
    const ctrlPort = await freePort(CTRL_PORTS, 1);
    writeFileSync(
      join(configDir, 'config'),
      baresipConfig({
        sipPort,
        ctrlPort,
        toneFile,
        recordDir,
        ...(transport === 'tls' ? { caFile: server.caFile } : {}),
        ...(this.options.mediaenc ? { mediaEncModule: mediaEncModule(this.options.mediaenc) } : {}),
      }),
    );
    writeFileSync(
      join(configDir, 'accounts'),
      baresipAccount(server, transport, account.username, account.password, this.options.mediaenc),
    );
    writeFileSync(join(configDir, 'contacts'), '');

    // stdbuf: baresip logs with stdio, which a pipe would block-buffer; -s traces SIP into the same log.
    const child = spawn('stdbuf', ['-oL', '-eL', 'baresip', '-f', configDir, '-s'], {
      cwd: workDir,
      env: { ...process.env, HOME: workDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code) => {
        this.exitCode = code;
        this.notify();
        resolve();
      });
      // Not started at all (no stdbuf or baresip): there will be no 'exit'.
      child.on('error', (err) => {
        this.keep(`spawn error: ${err.message}`);
        if (child.pid === undefined) {
          this.exitCode = null;
          resolve();
        }
      });
    });
    createInterface({ input: child.stdout! }).on('line', (line) => this.keep(line));
    createInterface({ input: child.stderr! }).on('line', (line) => this.keep(line));

    await this.until(
      () => this.log.some((l) => l.includes('baresip is ready')),
      STEP_MS,
      'baresip did not become ready ("baresip is ready")',
    );
    await this.connectCtrl(ctrlPort);

    // Registration may finish before ctrl_tcp is connected, so its log line counts as much as the event.
    const aor = `${account.username}@${server.domain}`;
    const okLine = (l: string) => l.startsWith(`${aor}: {`) && / 200 /.test(l);
    const failLine = (l: string) => l.startsWith(`${aor}: `) && /reg failed|\} [3-6]\d\d /.test(l);
    await this.until(
      () => {
        const fail = this.events.find((e) => e.type === 'REGISTER_FAIL') ?? this.log.find(failLine);
        if (fail)
          throw new Error(
            `baresip: registration failed: ${typeof fail === 'string' ? fail : (fail.param ?? '')}`,
          );
        return this.events.some((e) => e.type === 'REGISTER_OK') || this.log.some(okLine);
      },
      STEP_MS,
      `baresip: no REGISTER_OK for ${aor} over ${transport}`,
    );
  }

  async call(uri: string): Promise<void> {
    const from = this.events.length;
    this.lastDecoded = undefined;
    await this.command('dial', uri);
    await this.waitCallEvent(from, 'outgoing', `call to ${uri}`);
  }

  async waitAnswered(): Promise<void> {
    this.lastDecoded = undefined;
    await this.waitCallEvent(this.events.length, 'incoming', 'an incoming call');
  }

  async hangup(): Promise<void> {
    await this.command('hangup');
    await this.waitEnded();
  }

  async waitEnded(): Promise<void> {
    const start = this.callStart;
    await this.until(
      () => start >= 0 && this.events.slice(start).some((e) => e.type === 'CALL_CLOSED'),
      STEP_MS,
      'baresip: no CALL_CLOSED for the current call',
    );
  }

  async hold(): Promise<void> {
    await this.command('hold');
  }

  async resume(): Promise<void> {
    await this.command('resume');
  }

  async sendDtmf(digits: string): Promise<void> {
    // sndcode sends each key as an RFC 4733 event (telephone-event negotiated) and then a key release.
    await this.command('sndcode', digits);
  }

  async recording(): Promise<string> {
    await this.until(
      () => this.lastDecoded !== undefined,
      STEP_MS,
      'baresip: sndfile never said where it dumps the decoded audio ("sndfile: dumping decode audio to …")',
    );
    return this.lastDecoded!;
  }

  /**
   * The SIP messages baresip traced (`-s`) in the log kept so far, sent and received, in order. Each is printed
   * as a `#` line, `TLS 127.0.0.1:5061 -> 127.0.0.1:40000`, the start line, the headers, an empty line and
   * Content-Length bytes of body (its line ends lost to the line reader).
   */
  sipTrace(): BaresipTracedMessage[] {
    const messages: BaresipTracedMessage[] = [];
    for (let i = 0; i < this.log.length; i++) {
      const route = /^(UDP|TCP|TLS|WSS?) (\S+) -> (\S+)$/.exec(this.log[i]!.trim());
      if (!route || this.log[i - 1]?.trim() !== '#') continue;
      const startLine = this.log[i + 1] ?? '';
      if (!/^(SIP\/2\.0 \d{3}|[A-Z]+ \S+ SIP\/2\.0$)/.test(startLine)) continue;
      const headers: string[] = [];
      let at = i + 2;
      while (at < this.log.length && this.log[at] !== '') headers.push(this.log[at++]!);
      at++;
      const length = Number(
        headers.map((h) => /^(?:Content-Length|l)\s*:\s*(\d+)/i.exec(h)?.[1]).find(Boolean) ?? 0,
      );
      const body: string[] = [];
      let size = 0;
      while (size < length && at < this.log.length) {
        const line = this.log[at++]!;
        body.push(line);
        size += Buffer.byteLength(line) + 2;
      }
      messages.push({
        transport: route[1]!,
        from: route[2]!,
        to: route[3]!,
        startLine,
        headers,
        body: body.length > 0 ? `${body.join('\r\n')}\r\n` : '',
      });
      i = at - 1;
    }
    return messages;
  }

  logTail(lines = 60): string {
    return this.log.slice(-lines).join('\n');
  }

  async stop(): Promise<void> {
    this.ctrl?.destroy();
    const child = this.child;
    if (!child || this.exitCode !== undefined) return;
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(force);
  }

  private keep(line: string): void {
    // eslint-disable-next-line no-control-regex
    const clean = line.replace(/\x1b\[[0-9;]*m/g, '');
    this.log.push(clean);
    if (this.log.length > 5000) this.log.splice(0, this.log.length - 5000);
    const banner = /^baresip v(\d+\.\d+\.\d+)/.exec(clean);
    if (banner && !this.version) this.version = banner[1]!;
    const dump = /^sndfile: dumping (\w+) audio to (.+\.wav)$/.exec(clean.trim());
    if (dump && dump[1] === 'decode') this.lastDecoded = dump[2]!;
    this.notify();
  }

  private notify(): void {
    for (const wake of this.changed.splice(0)) wake();
  }

  /** Waits until `done` holds (it may throw to fail early), re-checking on every log line and event. */
  private async until(done: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (done()) return;
      if (this.exitCode !== undefined) {
        throw new Error(`${what}: baresip exited (${String(this.exitCode)})\n${this.logTail(40)}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what} within ${ms} ms\n${this.logTail(40)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        this.changed.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private async waitCallEvent(from: number, direction: string, what: string): Promise<void> {
    await this.until(
      () => {
        const seen = this.events.slice(from);
        const at = seen.findIndex((e) => e.type === 'CALL_ESTABLISHED' && e.direction === direction);
        if (at >= 0) {
          this.callStart = from + at;
          return true;
        }
        const closed = seen.find((e) => e.type === 'CALL_CLOSED');
        if (closed)
          throw new Error(
            `baresip: ${what} closed before it was answered: ${closed.param ?? ''}\n${this.logTail(40)}`,
          );
        return false;
      },
      STEP_MS,
      `baresip: no CALL_ESTABLISHED (${direction}) for ${what}`,
    );
  }

  private async connectCtrl(port: number): Promise<void> {
    const deadline = Date.now() + STEP_MS;
    for (;;) {
      try {
        this.ctrl = await new Promise<Socket>((resolve, reject) => {
          const socket = createConnection({ host: '127.0.0.1', port }, () => resolve(socket));
          socket.once('error', reject);
        });
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(
            `baresip: ctrl_tcp not listening on ${port}: ${(err as Error).message}\n${this.logTail(40)}`,
            { cause: err },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    this.ctrl.on('data', (chunk: Buffer) => this.onCtrlData(chunk));
    this.ctrl.on('error', (err) => this.keep(`ctrl_tcp error: ${err.message}`));
  }

  /** ctrl_tcp frames each JSON message as a netstring: `<length>:<json>,`. */
  private onCtrlData(chunk: Buffer): void {
    this.ctrlBuffer = Buffer.concat([this.ctrlBuffer, chunk]);
    for (;;) {
      const colon = this.ctrlBuffer.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.ctrlBuffer.toString('latin1', 0, colon));
      if (this.ctrlBuffer.length < colon + 1 + length + 1) return;
      const json = this.ctrlBuffer.toString('utf8', colon + 1, colon + 1 + length);
      this.ctrlBuffer = this.ctrlBuffer.subarray(colon + 1 + length + 1);
      let message: CtrlMessage;
      try {
        message = JSON.parse(json) as CtrlMessage;
      } catch {
        this.keep(`ctrl_tcp: unreadable message ${json}`);
        continue;
      }
      if (message.event) {
        this.events.push(message);
        this.keep(`ctrl_tcp event: ${message.type ?? '?'} ${message.direction ?? ''} ${message.param ?? ''}`);
      } else if (message.response && message.token) {
        this.responses.get(message.token)?.(message);
        this.responses.delete(message.token);
      }
    }
  }

  /** Sends a long command through ctrl_tcp; resolves with its output, rejects when baresip says it failed. */
  private async command(command: string, params = ''): Promise<string> {
    const ctrl = this.ctrl;
    if (!ctrl) throw new Error(`baresip: not started (command ${command})`);
    const token = `t${++this.tokens}`;
    const body = Buffer.from(JSON.stringify({ command, params, token }));
    const response = new Promise<CtrlMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.responses.delete(token);
        reject(
          new Error(
            `baresip: no response to "${command} ${params}" within ${STEP_MS} ms\n${this.logTail(40)}`,
          ),
        );
      }, STEP_MS);
      this.responses.set(token, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    ctrl.write(Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]));
    const answer = await response;
    if (answer.ok === false) {
      throw new Error(`baresip: "${command} ${params}" failed: ${answer.data ?? ''}\n${this.logTail(40)}`);
    }
    return answer.data ?? '';
  }
}

/** The first port of `range` where `count` consecutive ports are free on 127.0.0.1 for both TCP and UDP. */
async function freePort(range: readonly [number, number], count: number): Promise<number> {
  for (let port = range[0]; port + count - 1 <= range[1]; port++) {
    let free = true;
    for (let p = port; p < port + count && free; p++) free = (await canBindTcp(p)) && (await canBindUdp(p));
    if (free) return port;
  }
  throw new Error(`baresip driver: no free port in ${range[0]}-${range[1]}`);
}

function canBindTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function canBindUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

/** Whether baresip sent `m` (its source is not the server's SIP port of `transport`). */
export function sentByBaresip(m: BaresipTracedMessage, server: SipServer, transport: Transport): boolean {
  return m.from !== `${server.address}:${server.ports[transport]}`;
}

/** The method of a traced message's CSeq ("INVITE" for an INVITE and its responses). */
export function cseqMethod(m: BaresipTracedMessage): string | undefined {
  return m.headers.map((h) => /^CSeq\s*:\s*\d+\s+(\S+)/i.exec(h)?.[1]).find(Boolean);
}

/** The SDP body of the last traced message that `match`es and has one. */
export function lastSdp(
  trace: readonly BaresipTracedMessage[],
  match: (m: BaresipTracedMessage) => boolean,
): string | undefined {
  return trace.filter((m) => match(m) && /^m=/m.test(m.body)).at(-1)?.body;
}
