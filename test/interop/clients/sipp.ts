// The SIPp driver of the interop suite: a `Softphone` made of one SIPp 3.6 process (Debian sip-tester) running
// test/interop/fixtures/sipp/phone.xml in 3PCC controller-B mode. The driver owns that process, its twin-socket
// connection (each action is a command naming a Call-ID: register, call, hold, resume, dtmf, hangup,
// unregister), the G.711 tone pcap SIPp plays as its microphone (made at run time from the suite's tone WAV) and
// the config sample (the command line) the suite reports. SIPp cannot record what it hears: recording() is
// absent.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { linearToUlaw, readWav } from '../lib/audio.js';
import { consecutive, freePort } from '../lib/free-ports.js';
import type { ClientOptions, SipServer, Softphone, Transport } from '../lib/types.js';

const SCENARIO = fileURLToPath(new URL('../fixtures/sipp/phone.xml', import.meta.url));

/** How long SIPp gets for each step (registration, an answer, a re-INVITE, a hang-up) before the driver gives up. */
const STEP_MS = 15_000;

/** SIPp's SIP port, its twin (3PCC) port and its RTP port, away from the other drivers' and the relays' ranges. */
const SIP_PORTS: readonly [number, number] = [16000, 16998];
const TWIN_PORTS: readonly [number, number] = [17000, 17998];
const RTP_PORTS: readonly [number, number] = [21000, 21998];

/** SIPp's transport mode: one UDP socket; over TCP a connection per call (the REGISTER's stays open). */
const TRANSPORT_MODE: Readonly<Partial<Record<Transport, string>>> = { udp: 'u1', tcp: 'tn' };

/** The SIPp version, as `sipp -v` prints it ("3.6.1-SCTP-PCAP-RTPSTREAM"). */
export function sippVersion(): string {
  const out = spawnSync('sipp', ['-v'], { encoding: 'utf8' });
  return /SIPp v(\S+?)\.?\s/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? 'unknown';
}

/** The command line the driver runs, as a user would write it (the suite's config sample). */
export function sippCommand(opts: {
  readonly server: Pick<SipServer, 'address' | 'ports' | 'domain'>;
  readonly transport: Transport;
  readonly username: string;
  readonly password: string;
  readonly sipPort: number;
  readonly mediaPort: number;
  readonly twinPort: number;
  readonly scenario: string;
}): string[] {
  const mode = TRANSPORT_MODE[opts.transport];
  if (!mode)
    throw new Error(`SIPp driver: transport ${opts.transport} is not supported (this SIPp has no TLS)`);
  return [
    `${opts.server.address}:${opts.server.ports[opts.transport]}`,
    '-sf',
    opts.scenario,
    '-t',
    mode,
    '-i',
    '127.0.0.1',
    '-p',
    String(opts.sipPort),
    '-mi',
    '127.0.0.1',
    '-mp',
    String(opts.mediaPort),
    '-s',
    opts.username,
    '-au',
    opts.username,
    '-ap',
    opts.password,
    '-key',
    'domain',
    opts.server.domain,
    '-3pcc',
    `127.0.0.1:${opts.twinPort}`,
    // -t tn checks its socket budget against the open-file limit: a phone needs a handful.
    '-max_socket',
    '64',
    '-nostdin',
    '-trace_msg',
    '-message_file',
    'messages.log',
    '-trace_err',
    '-error_file',
    'errors.log',
    '-trace_logs',
    '-log_file',
    'events.log',
  ];
}

/** The config sample of docs/interop.md: the command line, with the twin commands that drive it. */
export function sippConfigSample(server: SipServer, transport: Transport): string {
  const args = sippCommand({
    server,
    transport,
    username: 'alice',
    password: 'alice-Secret-1',
    sipPort: 16000,
    mediaPort: 21000,
    twinPort: 17000,
    scenario: 'phone.xml',
  });
  return [
    `# test/interop/fixtures/sipp/phone.xml, with tone.pcap (G.711 μ-law RTP) next to it`,
    `sipp ${args.map((a) => (/^[\w./:@-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`,
    '# then, on TCP 127.0.0.1:17000, commands ended by ESC (0x1b), e.g.:',
    '#   Action: register\\r\\nCall-ID: reg-1\\r\\n',
    `#   Action: call\\r\\nCall-ID: call-1\\r\\nTarget: sip:bob@${server.domain}\\r\\n`,
    '#   Action: hold | resume | hangup, or Action: dtmf + Digits: 159#, with Call-ID: call-1',
  ].join('\n');
}

/**
 * A pcap of G.711 μ-law RTP (payload type 0, 20 ms packets) carrying `wavFile` (8 kHz mono), as SIPp's
 * play_pcap_audio reads it: Ethernet, IPv4, UDP; SIPp rewrites the ports and addresses when it plays it.
 */
export function writeTonePcap(path: string, wavFile: string): void {
  const pcm = readWav(wavFile);
  if (pcm.sampleRate !== 8000) throw new Error(`${wavFile}: ${pcm.sampleRate} Hz, expected 8000`);
  const frames = Math.floor(pcm.samples.length / 160);
  const ssrc = (Math.random() * 0xffffffff) >>> 0;
  const parts: Buffer[] = [];
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(65535, 16);
  global.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  parts.push(global);
  for (let f = 0; f < frames; f++) {
    const rtp = Buffer.alloc(12 + 160);
    rtp[0] = 0x80;
    rtp[1] = f === 0 ? 0x80 : 0x00; // marker on the first packet, payload type 0 (PCMU)
    rtp.writeUInt16BE(f & 0xffff, 2);
    rtp.writeUInt32BE((f * 160) >>> 0, 4);
    rtp.writeUInt32BE(ssrc, 8);
    for (let i = 0; i < 160; i++) rtp[12 + i] = linearToUlaw(pcm.samples[f * 160 + i]!);
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(6000, 0);
    udp.writeUInt16BE(6000, 2);
    udp.writeUInt16BE(8 + rtp.length, 4);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + 8 + rtp.length, 2);
    ip[8] = 64;
    ip[9] = 17;
    ip.writeUInt32BE(0x7f000001, 12);
    ip.writeUInt32BE(0x7f000001, 16);
    ip.writeUInt16BE(ipChecksum(ip), 10);
    const ether = Buffer.alloc(14);
    ether.writeUInt16BE(0x0800, 12);
    const packet = Buffer.concat([ether, ip, udp, rtp]);
    const record = Buffer.alloc(16);
    const micros = f * 20_000;
    record.writeUInt32LE(Math.floor(micros / 1_000_000), 0);
    record.writeUInt32LE(micros % 1_000_000, 4);
    record.writeUInt32LE(packet.length, 8);
    record.writeUInt32LE(packet.length, 12);
    parts.push(record, packet);
  }
  writeFileSync(path, Buffer.concat(parts));
}

function ipChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** One call the driver knows: placed by `call()` or answered by SIPp. */
interface CallRef {
  readonly callId: string;
  readonly incoming: boolean;
}

export class Sipp implements Softphone {
  readonly name = 'SIPp';
  readonly stack = 'SIPp (its own SIP engine and scenario interpreter)';
  version = '';
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private exitCode: number | null | undefined;
  private twin: Socket | undefined;
  private workDir = '';
  private readonly stderr: string[] = [];
  private readonly consumed = new Set<number>();
  private readonly tag = Math.floor(Math.random() * 0xffffff).toString(16);
  private calls = 0;
  private registration: string | undefined;
  private current: CallRef | undefined;

  async start(options: ClientOptions): Promise<void> {
    this.version = sippVersion();
    this.workDir = options.workDir;
    const scenario = join(options.workDir, 'phone.xml');
    copyFileSync(SCENARIO, scenario);
    writeTonePcap(join(options.workDir, 'tone.pcap'), options.toneFile);
    const sipPort = await freePort(SIP_PORTS, consecutive(1, options.transport === 'udp' ? 'udp' : 'tcp'));
    const mediaPort = await freePort(RTP_PORTS, consecutive(2, 'udp'), 2);
    const twinPort = await freePort(TWIN_PORTS, consecutive(1, 'tcp'));
    const args = sippCommand({
      server: options.server,
      transport: options.transport,
      username: options.account.username,
      password: options.account.password,
      sipPort,
      mediaPort,
      twinPort,
      scenario,
    });
    writeFileSync(join(options.workDir, 'command.txt'), `sipp ${args.join(' ')}\n`);
    const child = spawn('sipp', args, { cwd: options.workDir, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.exitCode = undefined;
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        this.stderr.push(`spawn: ${err.message}`);
        this.exitCode = null;
        resolve();
      });
      child.on('exit', (code, signal) => {
        this.exitCode = code;
        if (signal) this.stderr.push(`SIPp ended by ${signal}`);
        resolve();
      });
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr.push(...chunk.split('\n').filter(Boolean));
      if (this.stderr.length > 400) this.stderr.splice(0, this.stderr.length - 400);
    });
    this.twin = await this.connectTwin(twinPort);
    const id = `reg-${this.tag}`;
    this.command('register', id);
    await this.waitEvent('registered', id, 'the 200 to its REGISTER');
    this.registration = id;
  }

  async call(uri: string): Promise<void> {
    const id = `call-${this.tag}-${++this.calls}`;
    this.current = { callId: id, incoming: false };
    this.command('call', id, { Target: uri });
    await this.waitEvent('answered', id, `the 200 to its INVITE to ${uri}`);
  }

  async waitAnswered(): Promise<void> {
    const id = await this.waitEvent(
      'answered',
      (callId) => !callId.startsWith(`call-${this.tag}-`),
      'an incoming call answered (its ACK)',
    );
    this.current = { callId: id, incoming: true };
  }

  async hangup(): Promise<void> {
    const call = this.need('hang up');
    this.command('hangup', call.callId);
    await this.waitEvent('ended', call.callId, 'the 200 to its BYE');
  }

  async waitEnded(): Promise<void> {
    const call = this.need('wait for the end of');
    await this.waitEvent('ended', call.callId, 'the BYE of the other side (answered 200)');
  }

  async hold(): Promise<void> {
    const call = this.outgoing('hold');
    this.command('hold', call.callId);
    await this.waitEvent('held', call.callId, 'the 200 to its re-INVITE with a=sendonly');
  }

  async resume(): Promise<void> {
    const call = this.outgoing('resume');
    this.command('resume', call.callId);
    await this.waitEvent('resumed', call.callId, 'the 200 to its re-INVITE with a=sendrecv');
  }

  async sendDtmf(digits: string): Promise<void> {
    const call = this.outgoing('send DTMF in');
    this.command('dtmf', call.callId, { Digits: digits });
    await this.waitEvent('dtmf-sent', call.callId, 'play_dtmf started');
  }

  logTail(lines = 40): string {
    const tail = (file: string, n: number) => {
      const path = join(this.workDir, file);
      if (!this.workDir || !existsSync(path)) return `(no ${file})`;
      return readFileSync(path, 'latin1').split('\n').slice(-n).join('\n');
    };
    return [
      `--- SIPp ${this.exitCode === undefined ? 'running' : `exited (${this.exitCode})`}; stderr:`,
      this.stderr.slice(-10).join('\n'),
      '--- errors.log',
      tail('errors.log', 15),
      '--- events.log',
      tail('events.log', 15),
      '--- messages.log',
      tail('messages.log', lines * 3),
    ].join('\n');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    try {
      if (this.registration && this.twin && this.exitCode === undefined) {
        this.command('unregister', this.registration);
        await this.waitEvent(
          'unregistered',
          this.registration,
          'the 200 to its REGISTER with Expires: 0',
          5000,
        ).catch(() => undefined);
      }
    } finally {
      this.registration = undefined;
      // Closing the twin connection ends SIPp ("3PCC controller A has ended -> exiting"); without one (a failed
      // start) SIGTERM; SIGKILL if it is still there after 3 s.
      if (this.twin) this.twin.destroy();
      else if (this.exitCode === undefined) child.kill('SIGTERM');
      this.twin = undefined;
      if (this.exitCode === undefined) {
        const force = setTimeout(() => child.kill('SIGKILL'), 3000);
        await this.exited;
        clearTimeout(force);
      }
      this.child = undefined;
    }
  }

  private need(what: string): CallRef {
    if (!this.current) throw new Error(`SIPp driver: no call to ${what}`);
    return this.current;
  }

  private outgoing(what: string): CallRef {
    const call = this.need(what);
    if (call.incoming) throw new Error(`SIPp driver: phone.xml cannot ${what} a call SIPp answered`);
    return call;
  }

  /** Sends one twin command: `Action`, the Call-ID it starts or advances, extra fields; ESC ends it. */
  private command(action: string, callId: string, fields: Record<string, string> = {}): void {
    if (!this.twin) throw new Error('SIPp driver: not started');
    const lines = [
      `Action: ${action}`,
      `Call-ID: ${callId}`,
      ...Object.entries(fields).map(([k, v]) => `${k}: ${v}`),
    ];
    this.twin.write(`${lines.join('\r\n')}\r\n\r\n\x1b`);
  }

  /** Connects to SIPp's twin socket once SIPp listens on it (it does once its SIP socket is up). */
  private async connectTwin(port: number): Promise<Socket> {
    const deadline = Date.now() + STEP_MS;
    for (;;) {
      if (this.exitCode !== undefined) {
        throw new Error(
          `SIPp exited (${this.exitCode}) before it opened its 3PCC twin socket 127.0.0.1:${port}`,
        );
      }
      const socket = await new Promise<Socket | undefined>((resolve) => {
        const s = createConnection({ host: '127.0.0.1', port });
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
      if (socket) {
        socket.on('error', (err) => this.stderr.push(`twin socket: ${err.message}`));
        return socket;
      }
      if (Date.now() > deadline)
        throw new Error(`SIPp did not open its 3PCC twin socket 127.0.0.1:${port} within ${STEP_MS} ms`);
      await sleep(100);
    }
  }

  /**
   * Waits for the line "interop <event> <call-id>" that phone.xml logs (events.log), for the Call-ID `match`
   * names or accepts; returns that Call-ID. Rejects at once when SIPp exits or aborts the call (errors.log names
   * its Call-ID), else after `ms`, saying what was not seen.
   */
  private async waitEvent(
    event: string,
    match: string | ((callId: string) => boolean),
    what: string,
    ms = STEP_MS,
  ): Promise<string> {
    const accepts = typeof match === 'string' ? (id: string) => id === match : match;
    const deadline = Date.now() + ms;
    for (;;) {
      const lines = this.read('events.log');
      for (const [i, line] of lines.entries()) {
        const found = /^interop (\S+) (\S+)/.exec(line.trim());
        if (!found || this.consumed.has(i) || found[1] !== event || !accepts(found[2]!)) continue;
        this.consumed.add(i);
        return found[2]!;
      }
      if (typeof match === 'string') {
        const aborted = this.read('errors.log').find(
          (l) => l.includes(match) && /abort|unexpected|fail/i.test(l),
        );
        if (aborted) throw new Error(`SIPp: no ${what}: ${aborted.trim()}`);
      }
      if (this.exitCode !== undefined) throw new Error(`SIPp exited (${this.exitCode}) without ${what}`);
      if (Date.now() > deadline) throw new Error(`SIPp: no ${what} within ${ms} ms`);
      await sleep(100);
    }
  }

  private read(file: string): string[] {
    const path = join(this.workDir, file);
    return existsSync(path) ? readFileSync(path, 'latin1').split('\n') : [];
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
