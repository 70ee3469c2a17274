// The Linphone driver of the interop suite: a `Softphone` for Linphone 5.1's console client `linphonec`
// (Debian `linphone-cli`, belle-sip stack) run headless — its linphonerc, HOME (where liblinphone keeps its
// sqlite files), log and recordings in the workDir, WAV files as the sound card, commands on stdin and call
// states read from its console — and the config sample the suite reports for it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { consecutive, freePort } from '../lib/free-ports.js';
import type { ClientOptions, SipServer, Softphone, Transport } from '../lib/types.js';

/** How long linphonec gets for each step (registration, an answer, a hang-up) before the driver gives up. */
const STEP_MS = 15_000;

/** SIP ports linphonec may listen on (UDP or TCP on the port, TLS on the port + 1), away from every relay range. */
const SIP_PORTS: readonly [number, number] = [16000, 16998];
/** linphonec's own RTP ports (an even port and the next for RTCP): below both relays' ranges. */
const RTP_PORTS: readonly [number, number] = [21000, 21998];

/** linphonec's prompt; it precedes the output of asynchronous events printed after a command. */
const PROMPT = 'linphonec> ';

/** What the linphonerc says; everything else is liblinphone's default. */
export interface LinphonercOptions {
  readonly server: SipServer;
  readonly transport: Transport;
  readonly username: string;
  readonly password: string;
  /** The port linphonec listens on for the transport in use (the others are off). */
  readonly sipPort: number;
  readonly rtpPort: number;
}

/**
 * The linphonerc. Besides the account ([proxy_0], [auth_info_0]) it has to say:
 * - `use_ipv6=0` with `ipv6_migration_done=1`: without the latter liblinphone 5.1 drops `use_ipv6` as an old
 *   setting and enables IPv6; on a host with loopback only, its network monitor then finds no routable
 *   address 5 s after start, declares the network down, drops its registration and closes its TCP/TLS
 *   connections (a call to it fails after that). With IPv6 off that check never says "down".
 * - `reg_route`: the server as outbound proxy, else a call to sip:user@domain resolves the domain in DNS.
 * - for TLS, the server's certificate as the only root (`root_ca`) and `verify_server_cn=0`: belle-sip checks
 *   the name it connected to (127.0.0.1) against the certificate's CN and DNS names only, never its IP
 *   subjectAltName, so a server reached by address fails with "CN-mismatch" although the chain verifies.
 * - the RFC 4733 DTMF method, video off, no echo canceller on the WAV "sound card".
 */
export function linphonerc(opts: LinphonercOptions): string {
  const { server, transport } = opts;
  const proxy = `<sip:${server.address}:${server.ports[transport]};transport=${transport}>`;
  const route = `<sip:${server.address}:${server.ports[transport]};transport=${transport};lr>`;
  return [
    '[sip]',
    `sip_port=${transport === 'udp' ? opts.sipPort : 0}`,
    `sip_tcp_port=${transport === 'tcp' ? opts.sipPort : 0}`,
    `sip_tls_port=${transport === 'tls' ? opts.sipPort : 0}`,
    'use_ipv6=0',
    'ipv6_migration_done=1',
    'default_proxy=0',
    'use_rfc2833=1',
    'use_info=0',
    ...(transport === 'tls'
      ? ['verify_server_certs=1', 'verify_server_cn=0', `root_ca=${server.caFile}`]
      : []),
    '',
    '[rtp]',
    `audio_rtp_port=${opts.rtpPort}`,
    '',
    '[sound]',
    'echocancellation=0',
    '',
    '[video]',
    'enabled=0',
    'capture=0',
    'display=0',
    'automatically_initiate=0',
    'automatically_accept=0',
    '',
    '[proxy_0]',
    `reg_proxy=${proxy}`,
    `reg_route=${route}`,
    `reg_identity=sip:${opts.username}@${server.domain}`,
    'reg_expires=600',
    'reg_sendregister=1',
    'publish=0',
    '',
    '[auth_info_0]',
    `username=${opts.username}`,
    `passwd=${opts.password}`,
    `realm=${server.domain}`,
    `domain=${server.domain}`,
    '',
  ].join('\n');
}

/** The config sample for docs/interop.md: the linphonerc as a user would write it for this server. */
export function linphoneConfigSample(server: SipServer, transport: Transport): string {
  const rc = linphonerc({
    server,
    transport,
    username: 'alice',
    password: '<password>',
    sipPort: transport === 'tls' ? 5063 : 5062,
    rtpPort: 7078,
  }).replace(`root_ca=${server.caFile}`, 'root_ca=/path/to/server-ca.pem');
  return [
    '# ~/.linphonerc (run: linphonec -c ~/.linphonerc -a; then `soundcard use files`, `play F.wav`, `record F.wav`)',
    rc.trimEnd(),
  ].join('\n');
}

/** A call state line of linphonec's console. */
interface Seen {
  readonly match: RegExpExecArray;
  /** Offset in the console transcript just past the match. */
  readonly end: number;
}

export class Linphone implements Softphone {
  readonly name = 'Linphone (linphonec)';
  readonly stack = 'belle-sip';
  version = '';

  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private exitCode: number | null | undefined;
  /** Everything linphonec printed on stdout and stderr (its console), with the commands it echoed. */
  private console = '';
  private changed: (() => void)[] = [];
  private workDir = '';
  private logFile = '';
  /** The current (or last) call: linphonec's id and where its lines start in the console transcript. */
  private current: { id: string; from: number } | undefined;
  private recordings = 0;
  /** The file set with `record` for the next call, and the file of the current or last call. */
  private armed: string | undefined;
  private callRecording: string | undefined;

  async start(options: ClientOptions): Promise<void> {
    const { server, transport, account, workDir, toneFile } = options;
    this.workDir = workDir;
    this.logFile = join(workDir, 'linphonec.log');
    this.version = linphonecVersion();
    // liblinphone keeps its sqlite files in $HOME/.local/share/linphone; without the folder it never leaves
    // LinphoneGlobalStartup (no listening, no registration).
    mkdirSync(join(workDir, '.local', 'share', 'linphone'), { recursive: true });
    const sipPort = await freePort(SIP_PORTS, consecutive(1, transport === 'udp' ? 'udp' : 'tcp'));
    const rtpPort = await freePort(RTP_PORTS, consecutive(2, 'udp'), 2);
    const rc = join(workDir, 'linphonerc');
    writeFileSync(
      rc,
      linphonerc({
        server,
        transport,
        username: account.username,
        password: account.password,
        sipPort,
        rtpPort,
      }),
    );

    // -a: auto-answer; -d 6 -l: liblinphone's full log (SIP messages included) in the workDir.
    const child = spawn('linphonec', ['-c', rc, '-a', '-d', '6', '-l', this.logFile], {
      cwd: workDir,
      env: { ...process.env, HOME: workDir },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.on('exit', (code) => {
        this.exitCode = code;
        this.notify();
        resolve();
      }),
    );
    child.on('error', (err) => this.keep(`\n[driver] spawn error: ${err.message}\n`));
    child.stdin!.on('error', () => undefined);
    child.stdout!.on('data', (chunk: Buffer) => this.keep(chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => this.keep(chunk.toString('utf8')));

    await this.waitConsole(0, /^Warning: video is disabled|linphonec> /m, 'linphonec: no prompt');
    await this.command('soundcard use files', /Using wav files instead of soundcard\./);
    await this.command(`play ${toneFile}`);
    this.arm();

    // linphonec prints no registration event: ask for the status until the account says so. A failure shows
    // in liblinphone's log as the account's move to LinphoneRegistrationFailed.
    const deadline = Date.now() + STEP_MS;
    for (;;) {
      const from = this.console.length;
      this.send('status register');
      const seen = await this.waitConsole(
        from,
        /^(registered, identity=.*|registered=-?\d+|unregistered)$/m,
        'linphonec: no answer to `status register`',
      );
      if (seen.match[1]!.startsWith('registered, ')) return;
      const failed = /to \[LinphoneRegistrationFailed\]/.test(this.logText(200_000));
      if (failed || Date.now() > deadline) {
        throw new Error(
          `linphonec: not registered over ${transport} to ${server.address}:${server.ports[transport]} ` +
            `${failed ? '(LinphoneRegistrationFailed)' : `within ${STEP_MS} ms`}\n${this.logTail(40)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  async call(uri: string): Promise<void> {
    if (this.armed === this.callRecording) this.arm();
    const from = this.console.length;
    this.send(`call ${uri}`);
    const started = await this.waitConsole(
      from,
      /Establishing call id to .*, assigned id (\d+)/,
      `linphonec: call to ${uri} not started`,
    );
    const id = started.match[1]!;
    this.current = { id, from };
    this.callRecording = this.armed;
    await this.waitEstablished(id, from, `call ${id} to ${uri}`);
  }

  async waitAnswered(): Promise<void> {
    // -a answers by itself; an incoming call is announced, then answered, then its streams run.
    if (this.armed === this.callRecording) this.arm();
    const from = this.console.length;
    const incoming = await this.waitConsole(
      from,
      /Receiving new incoming call from .*, assigned id (\d+)/,
      'linphonec: no incoming call',
    );
    const id = incoming.match[1]!;
    this.current = { id, from };
    this.callRecording = this.armed;
    await this.waitEstablished(id, from, `incoming call ${id}`);
  }

  async hangup(): Promise<void> {
    const call = this.requireCall('hangup');
    this.send(`terminate ${call.id}`);
    await this.waitEnded();
  }

  async waitEnded(): Promise<void> {
    const call = this.requireCall('waitEnded');
    await this.waitConsole(
      call.from,
      new RegExp(`^Call ${call.id} with .* ended \\(`, 'm'),
      `linphonec: call ${call.id} did not end`,
    );
    // The next call records into a new file; `record` applies to calls started after it.
    if (this.armed === this.callRecording) this.arm();
  }

  async hold(): Promise<void> {
    const call = this.requireCall('hold');
    const from = this.console.length;
    this.send(`pause ${call.id}`);
    await this.waitConsole(
      from,
      new RegExp(`^Call ${call.id} with .* is now paused\\.`, 'm'),
      `linphonec: call ${call.id} not paused`,
    );
  }

  async resume(): Promise<void> {
    const call = this.requireCall('resume');
    const from = this.console.length;
    this.send(`resume ${call.id}`);
    await this.waitConsole(
      from,
      new RegExp(`^Media streams established with .* for call ${call.id} `, 'm'),
      `linphonec: call ${call.id} not resumed (no "Media streams established")`,
    );
  }

  async sendDtmf(digits: string): Promise<void> {
    // A line of digits at the prompt is DTMF for the current call (RFC 4733 with use_rfc2833=1); linphonec
    // sends one digit a second and prints its prompt again when the line is done.
    if (!/^[0-9*#]+$/.test(digits)) throw new Error(`linphonec: cannot send "${digits}" as DTMF`);
    this.requireCall('sendDtmf');
    const from = this.console.length;
    this.send(digits);
    const echo = await this.waitConsole(
      from,
      new RegExp(`^${escape(digits)}$`, 'm'),
      'linphonec: DTMF line not read',
    );
    await this.waitConsole(
      echo.end,
      new RegExp(escape(PROMPT)),
      `linphonec: DTMF ${digits} not done`,
      STEP_MS + digits.length * 1000,
    );
  }

  async recording(): Promise<string> {
    const path = this.callRecording;
    if (!path) throw new Error(`linphonec: no call was recorded\n${this.logTail(40)}`);
    if (!existsSync(path) || statSync(path).size <= 44) {
      throw new Error(`linphonec: the call's recording ${path} is missing or empty\n${this.logTail(40)}`);
    }
    return path;
  }

  logTail(lines = 60): string {
    const consoleLines = this.console.split('\n').slice(-lines);
    // liblinphone's log at -d 6 is mostly media noise: keep SIP start lines, state moves and errors.
    const interesting = this.logText(400_000)
      .split('\n')
      .filter((l) =>
        /^(?:[A-Z]+ sips?:\S+ SIP\/2\.0|SIP\/2\.0 \d{3} )|moving from state|reachability|-error-|-warning-/.test(
          l,
        ),
      )
      .slice(-lines);
    return [
      '--- linphonec console ---',
      ...consoleLines,
      `--- ${this.logFile} (SIP start lines, states, warnings) ---`,
      ...interesting,
    ].join('\n');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || this.exitCode !== undefined) return;
    // `quit` unregisters and exits; a linphonec that does not is killed.
    this.send('quit');
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(force);
  }

  /** Sets a new file for `record`: the audio linphonec receives in the next call is written there. */
  private arm(): void {
    this.armed = join(this.workDir, `received-${++this.recordings}.wav`);
    this.send(`record ${this.armed}`);
  }

  private requireCall(what: string): { id: string; from: number } {
    if (!this.current) throw new Error(`linphonec: ${what} without a call`);
    return this.current;
  }

  /** Waits for the call's streams to run (answered), failing early when linphonec ends the call instead. */
  private async waitEstablished(id: string, from: number, what: string): Promise<void> {
    const seen = await this.waitConsole(
      from,
      new RegExp(
        `^Media streams established with .* for call ${id} |^Call ${id} with .* (?:ended \\(.*\\)|error)\\.`,
        'm',
      ),
      `linphonec: ${what} not established`,
    );
    if (!seen.match[0].startsWith('Media streams')) {
      throw new Error(`linphonec: ${what} failed: ${seen.match[0]}\n${this.logTail(40)}`);
    }
  }

  /** Writes a command line and, with `expect`, waits for its output. */
  private async command(line: string, expect?: RegExp): Promise<void> {
    const from = this.console.length;
    this.send(line);
    if (expect) await this.waitConsole(from, expect, `linphonec: no answer to \`${line}\``);
  }

  private send(line: string): void {
    const stdin = this.child?.stdin;
    if (!stdin || this.exitCode !== undefined) throw new Error(`linphonec: not running (command ${line})`);
    this.keep(`\n[driver] > ${line}\n`);
    stdin.write(`${line}\n`);
  }

  private keep(text: string): void {
    // Asynchronous event lines follow the prompt on the same line: put them on a line of their own.
    this.console += text.split(PROMPT).join(`${PROMPT}\n`);
    if (this.console.length > 2_000_000) this.console = this.console.slice(-1_000_000);
    this.notify();
  }

  private notify(): void {
    for (const wake of this.changed.splice(0)) wake();
  }

  private changedOrTimeout(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.changed.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Waits for `pattern` in the console after offset `from`; rejects with what was not seen and the log. */
  private async waitConsole(from: number, pattern: RegExp, what: string, ms = STEP_MS): Promise<Seen> {
    const deadline = Date.now() + ms;
    const global = new RegExp(
      pattern.source,
      pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`,
    );
    for (;;) {
      global.lastIndex = Math.min(from, this.console.length);
      const match = global.exec(this.console);
      if (match) return { match, end: match.index + match[0].length };
      if (this.exitCode !== undefined) {
        throw new Error(`${what}: linphonec exited (${String(this.exitCode)})\n${this.logTail(40)}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what} within ${ms} ms\n${this.logTail(40)}`);
      await this.changedOrTimeout(Math.min(left, 500));
    }
  }

  /** The last `bytes` of liblinphone's log file. */
  private logText(bytes: number): string {
    if (!this.logFile || !existsSync(this.logFile)) return '';
    const size = statSync(this.logFile).size;
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    const fd = openSync(this.logFile, 'r');
    try {
      readSync(fd, buffer, 0, length, size - length);
    } finally {
      closeSync(fd);
    }
    return buffer.toString('utf8');
  }
}

/** linphonec's version ("version: 5.1.65" → "5.1.65"). */
function linphonecVersion(): string {
  const out = execFileSync('linphonec', ['-v'], { encoding: 'utf8', timeout: 10_000 });
  return /version:\s*(\S+)/.exec(out)?.[1] ?? out.trim();
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
