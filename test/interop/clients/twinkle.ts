// The Twinkle driver of the interop suite: a `Softphone` for Twinkle 1.10 (Debian `twinkle-console`, its own
// SIP stack, ccRTP for media) run headless — HOME in the workDir holding `.twinkle/twinkle.sys`, the profile
// and an `.asoundrc` whose ALSA `file` plugins make a FIFO (fed with the tone in real time) the microphone and
// WAV files the speaker — commands on stdin, events read from its console output — and the config sample the
// suite reports for it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { readWav, writeWav } from '../lib/audio.js';
import { consecutive, freePort } from '../lib/free-ports.js';
import type { ClientOptions, SipServer, Softphone, Transport } from '../lib/types.js';

/** How long Twinkle gets for each step (registration, an answer, a re-INVITE, a hang-up) before the driver gives up. */
const STEP_MS = 15_000;
/** SIP ports Twinkle may listen on (UDP and TCP on one port), away from the servers' and the other clients'. */
const SIP_PORTS: readonly [number, number] = [16060, 16998];
/** Twinkle's RTP base port (line 1 takes it and the next, line 2 the two after …): below every relay range. */
const RTP_PORTS: readonly [number, number] = [21000, 21998];
/** The profile's name (Twinkle names it after the file): it starts every registration line. */
const PROFILE = 'interop';
/** One RTP frame of the microphone FIFO: 20 ms at 8 kHz, 16-bit mono. */
const FRAME_SAMPLES = 160;

/** `~/.twinkle/twinkle.sys`: audio devices of the `.asoundrc`, no ring tones, SIP traced into twinkle.log. */
export function twinkleSys(opts: { readonly sipPort: number; readonly rtpPort: number }): string {
  return [
    '# AUDIO',
    'dev_ringtone=alsa:null',
    'dev_speaker=alsa:interop_speaker',
    'dev_mic=alsa:interop_mic',
    'validate_audio_dev=no',
    '# LOG',
    'log_max_size=20',
    'log_show_sip=yes',
    // VOXGATE_INTEROP_TWINKLE_DEBUG=1 adds Twinkle's debug lines (audio threads, ALSA set-up) to twinkle.log.
    `log_show_debug=${process.env.VOXGATE_INTEROP_TWINKLE_DEBUG ? 'yes' : 'no'}`,
    '# Network',
    `sip_port=${opts.sipPort}`,
    `rtp_port=${opts.rtpPort}`,
    '# Ring tones',
    'play_ringtone=no',
    'play_ringback=no',
    '',
  ].join('\n');
}

/**
 * The user profile. `registrar` and `outbound_proxy` are host:port (Twinkle silently ignores them with a
 * `sip:` scheme); requests outside a dialog go to the server as outbound proxy over the profile's transport.
 */
export function twinkleProfile(
  server: SipServer,
  transport: Transport,
  username: string,
  password: string,
): string {
  const hostPort = `${server.address}:${server.ports[transport]}`;
  return [
    '# USER',
    `user_name=${username}`,
    `user_domain=${server.domain}`,
    `user_display=${username}`,
    `auth_name=${username}`,
    `auth_pass=${password}`,
    '# SIP SERVER',
    `registrar=${hostPort}`,
    'register_at_startup=yes',
    'registration_time=600',
    `outbound_proxy=${hostPort}`,
    // Twinkle's default: requests in a dialog follow its route set (RFC 3261 §12.2.1.1), not the proxy.
    'all_requests_to_proxy=no',
    '# RTP AUDIO',
    'codecs=g711u,g711a',
    'ptime=20',
    'dtmf_transport=rfc2833',
    // Twinkle's speex preprocessing is on by default for every codec: its VAD takes a steady sound for noise
    // after about 1.5 s and then sends no RTP at all (silence suppression), and AGC/noise reduction reshape it.
    'speex_dsp_vad=no',
    'speex_dsp_agc=no',
    'speex_dsp_nrd=no',
    '# SIP PROTOCOL',
    'hold_variant=rfc3264',
    '# Transport/NAT',
    `sip_transport=${transport}`,
    '',
  ].join('\n');
}

/**
 * `~/.asoundrc`: the microphone reads the FIFO the driver feeds with the tone in real time (ALSA's `file`
 * plugin takes raw samples from `infile`; the `null` slave gives the timing-free device it wraps), and the
 * speaker writes what Twinkle plays as WAV files — a new numbered file each time Twinkle opens it (each call,
 * each retrieve), since `truncate false` never overwrites.
 */
export function twinkleAsoundrc(micFifo: string, speakerFile: string): string {
  return [
    'pcm.interop_mic {',
    '\ttype file',
    '\tslave.pcm "null"',
    '\tfile "/dev/null"',
    `\tinfile "${micFifo}"`,
    '\tformat "raw"',
    '}',
    'pcm.interop_speaker {',
    '\ttype file',
    '\tslave.pcm "null"',
    `\tfile "${speakerFile}"`,
    '\tformat "wav"',
    '\ttruncate false',
    '}',
    '',
  ].join('\n');
}

/** The config sample for docs/interop.md: the profile as a user writes it, and the devices of twinkle.sys. */
export function twinkleConfigSample(server: SipServer, transport: Transport): string {
  const account = server.account('alice');
  return [
    '# ~/.twinkle/twinkle.sys (excerpt)',
    'dev_speaker=alsa:default',
    'dev_mic=alsa:default',
    'sip_port=16060',
    '',
    `# ~/.twinkle/${PROFILE}.cfg (run as: twinkle-console ~/.twinkle/${PROFILE}.cfg)`,
    twinkleProfile(server, transport, account.username, '<password>')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .join('\n'),
  ].join('\n');
}

export class Twinkle implements Softphone {
  readonly name = 'Twinkle';
  readonly stack = 'Twinkle (own SIP stack, ccRTP)';
  version = '';

  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private exitCode: number | null | undefined;
  /** Everything Twinkle printed on its console (stdout and stderr, in order). */
  private console = '';
  private changed: (() => void)[] = [];
  private home = '';
  private speakerFile = '';
  private mic: MicFeeder | undefined;
  /** Offset in `console` where the current (or last) call began: its events are looked for from there. */
  private callMark = 0;

  async start(options: ClientOptions): Promise<void> {
    const { server, transport, account, workDir, toneFile } = options;
    this.home = join(workDir, 'home');
    const dotTwinkle = join(this.home, '.twinkle');
    const speakerDir = join(workDir, 'speaker');
    mkdirSync(dotTwinkle, { recursive: true });
    mkdirSync(speakerDir, { recursive: true });
    this.speakerFile = join(speakerDir, 'call.wav');
    const micFifo = join(workDir, 'mic.fifo');
    rmSync(micFifo, { force: true });
    const made = spawnSync('mkfifo', [micFifo], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`twinkle: mkfifo ${micFifo} failed: ${made.stderr}`);

    const sipPort = await freePort(SIP_PORTS, consecutive(1, 'udp', 'tcp'), 2);
    const rtpPort = await freePort(RTP_PORTS, consecutive(4, 'udp'), 2);
    writeFileSync(join(dotTwinkle, 'twinkle.sys'), twinkleSys({ sipPort, rtpPort }));
    const profile = join(dotTwinkle, `${PROFILE}.cfg`);
    writeFileSync(profile, twinkleProfile(server, transport, account.username, account.password));
    writeFileSync(join(this.home, '.asoundrc'), twinkleAsoundrc(micFifo, this.speakerFile));
    this.mic = new MicFeeder(micFifo, readWav(toneFile).samples);

    const child = spawn('twinkle-console', [profile], {
      cwd: workDir,
      env: { ...process.env, HOME: this.home },
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
    child.on('error', (err) => {
      this.console += `\n[driver] cannot run twinkle-console: ${err.message}\n`;
      this.exitCode = -1;
      this.notify();
    });
    const take = (chunk: Buffer) => {
      this.console += chunk.toString('utf8');
      this.notify();
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.stdin.on('error', () => undefined);

    const banner = await this.expect(/Twinkle (\d+\.\d+(?:\.\d+)?)/, 0, 'its banner');
    this.version = banner[1] ?? '';
    const outcome = await this.expect(
      new RegExp(`${PROFILE}(: registration succeeded|, registration failed: .*)`),
      0,
      'the outcome of its registration',
    );
    if (outcome[1]?.startsWith(',')) throw new Error(`twinkle: ${outcome[0]}\n${this.logTail()}`);
    await this.command('auto_answer -a on', /Auto answer enabled\./, 'auto answer enabled');
  }

  async call(uri: string): Promise<void> {
    this.beginCall();
    const mark = this.console.length;
    this.send(`call ${uri}`);
    const result = await this.expect(
      /Line \d+: (far end answered call\.|call failed\.\n.*)/,
      mark,
      `the answer to its call to ${uri}`,
      30_000,
    );
    if (result[1]?.startsWith('call failed')) {
      throw new Error(`twinkle: ${result[0].replace(/\n/g, ' ')}\n${this.logTail()}`);
    }
  }

  async waitAnswered(): Promise<void> {
    this.beginCall();
    await this.expect(/Line \d+: call established\./, this.callMark, 'an incoming call answered', 30_000);
  }

  async hangup(): Promise<void> {
    const mark = this.console.length;
    this.send('bye');
    await this.expect(/Line \d+: call ended\./, mark, 'its own hang-up (BYE sent)');
  }

  async waitEnded(): Promise<void> {
    await this.expect(/Line \d+: far end ended call\./, this.callMark, 'the far end ending the call');
  }

  async hold(): Promise<void> {
    await this.reinvite('hold');
  }

  async resume(): Promise<void> {
    const sessions = this.rtpSessions().started;
    await this.reinvite('retrieve');
    // Twinkle stopped its RTP session on hold: the call is back when it has started a new one.
    await this.audioRunning(sessions, 'a new RTP session started after the retrieve');
  }

  async sendDtmf(digits: string): Promise<void> {
    // Twinkle sends digits as RFC 4733 events only when the answer offered telephone-event; it says so.
    await this.expect(
      /Line \d+: far end (supports DTMF telephone event|does not support DTMF events)/,
      this.callMark,
      'whether the far end supports DTMF events',
      2000,
    ).then((m) => {
      if (m[1]?.startsWith('does not')) throw new Error(`twinkle: ${m[0]}\n${this.logTail()}`);
    });
    // Digits typed while the line has no running audio session are dropped without a word.
    await this.audioRunning(-1, 'its RTP session running');
    const mark = this.console.length;
    this.send(`dtmf ${digits}`);
    // The console gives no feedback for digits sent: the next prompt says the command was taken.
    await this.expect(/Twinkle> /, mark + 1, `the prompt after "dtmf ${digits}"`);
    const after = this.console.slice(mark);
    if (/does not support DTMF|Usage|Unknown command/.test(after)) {
      throw new Error(`twinkle: dtmf ${digits} refused:\n${after}\n${this.logTail()}`);
    }
  }

  async recording(): Promise<string> {
    const dir = join(this.speakerFile, '..');
    const files = readdirSync(dir)
      .filter((f) => f.startsWith('call.wav'))
      .sort((a, b) => sequence(a) - sequence(b));
    if (files.length === 0) throw new Error(`twinkle: no speaker file in ${dir} (it played nothing)`);
    // Each opening of the speaker (call start, each retrieve) made its own file: the call is all of them. A
    // file Twinkle closed before ALSA flushed anything has no WAV header yet: nothing was played into it.
    const parts = files.flatMap((f) => {
      try {
        return [readWav(join(dir, f))];
      } catch {
        return [];
      }
    });
    if (parts.length === 0)
      throw new Error(`twinkle: no readable speaker file in ${dir}: ${files.join(', ')}`);
    const rate = parts[0]!.sampleRate;
    const total = parts.reduce((n, p) => n + p.samples.length, 0);
    const samples = new Int16Array(total);
    let at = 0;
    for (const p of parts) {
      samples.set(p.samples, at);
      at += p.samples.length;
    }
    const out = join(dir, '..', `received-${Date.now()}.wav`);
    writeWav(out, samples, rate);
    return out;
  }

  logTail(lines = 60): string {
    const consoleTail = this.console.split('\n').slice(-lines).join('\n');
    const logFile = join(this.home, '.twinkle', 'twinkle.log');
    let sip: string;
    try {
      sip = readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      sip = '(no twinkle.log)';
    }
    return `--- twinkle console ---\n${consoleTail}\n--- twinkle.log ---\n${sip}`;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && this.exitCode === undefined) {
      child.stdin?.write('quit\n');
      const force = setTimeout(() => child.kill('SIGKILL'), 3000);
      const term = setTimeout(() => child.kill('SIGTERM'), 1500);
      await this.exited;
      clearTimeout(force);
      clearTimeout(term);
    }
    this.mic?.close();
    this.mic = undefined;
  }

  /** Starts a call's bookkeeping: its events are looked for from here, its speaker files are new. */
  private beginCall(): void {
    this.callMark = this.console.length;
    const dir = join(this.speakerFile, '..');
    for (const f of readdirSync(dir)) if (f.startsWith('call.wav')) rmSync(join(dir, f), { force: true });
  }

  /** How many RTP sessions twinkle.log says Twinkle started and stopped so far. */
  private rtpSessions(): { started: number; stopped: number } {
    let log = '';
    try {
      log = readFileSync(join(this.home, '.twinkle', 'twinkle.log'), 'utf8');
    } catch {
      // not written yet
    }
    return {
      started: log.match(/: RTP session started\./g)?.length ?? 0,
      stopped: log.match(/: RTP session stopped\./g)?.length ?? 0,
    };
  }

  /**
   * Resolves once twinkle.log says an RTP session runs — more than `after` started in all (-1: any running) —
   * and 60 ms later, so that its audio threads (which take the digits) have come up.
   */
  private async audioRunning(after: number, what: string): Promise<void> {
    const deadline = Date.now() + STEP_MS;
    for (;;) {
      const { started, stopped } = this.rtpSessions();
      if (started > stopped && started > after) break;
      if (Date.now() > deadline) {
        throw new Error(`twinkle: did not see ${what} within ${STEP_MS} ms\n${this.logTail()}`);
      }
      if (this.exitCode !== undefined) {
        throw new Error(`twinkle exited (${this.exitCode}) before ${what}\n${this.logTail()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 60));
  }

  private async reinvite(command: 'hold' | 'retrieve'): Promise<void> {
    const mark = this.console.length;
    this.send(command);
    const result = await this.expect(
      /Line \d+: (re-INVITE successful\.|re-INVITE failed\.\n.*|retrieve failed\.)/,
      mark,
      `the outcome of "${command}" (its re-INVITE)`,
    );
    if (!result[1]?.startsWith('re-INVITE successful')) {
      throw new Error(`twinkle: ${command}: ${result[0].replace(/\n/g, ' ')}\n${this.logTail()}`);
    }
  }

  private send(line: string): void {
    if (!this.child?.stdin?.writable) throw new Error(`twinkle: not running (cannot send "${line}")`);
    this.child.stdin.write(`${line}\n`);
  }

  private async command(line: string, done: RegExp, what: string): Promise<void> {
    const mark = this.console.length;
    this.send(line);
    await this.expect(done, mark, what);
  }

  private notify(): void {
    for (const f of this.changed.splice(0)) f();
  }

  /** Resolves with the first match of `pattern` in the console output from `from` on; rejects on exit or timeout. */
  private expect(pattern: RegExp, from: number, what: string, ms = STEP_MS): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.changed = this.changed.filter((f) => f !== check);
        reject(new Error(`twinkle: did not see ${what} within ${ms} ms\n${this.logTail()}`));
      }, ms);
      const check = () => {
        const found = pattern.exec(this.console.slice(from));
        if (found) {
          clearTimeout(timer);
          resolve(found);
        } else if (this.exitCode !== undefined) {
          clearTimeout(timer);
          reject(new Error(`twinkle exited (${this.exitCode}) before ${what}\n${this.logTail()}`));
        } else this.changed.push(check);
      };
      check();
    });
  }
}

/**
 * Feeds the microphone FIFO with the tone in real time (20 ms frames, by the clock), so that Twinkle's capture
 * thread — which reads a timing-free device — is paced like by a sound card. The FIFO is opened for writing
 * only while Twinkle has it open for reading (a non-blocking open fails with ENXIO until then), so no stale
 * audio piles up between calls: a backlog read in one burst makes ccRTP stall Twinkle's sending for good.
 */
class MicFeeder {
  private fd: number | undefined;
  private readonly timer: NodeJS.Timeout;
  private began = 0;
  private sent = 0;
  private at = 0;
  private readonly frame = Buffer.alloc(FRAME_SAMPLES * 2);

  constructor(
    private readonly path: string,
    private readonly tone: Int16Array,
  ) {
    this.timer = setInterval(() => this.tick(), 5);
  }

  private tick(): void {
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch {
        return; // ENXIO: Twinkle is not reading (no call, or on hold)
      }
      this.began = Date.now();
      this.sent = 0;
    }
    // One frame ahead of the clock, so that a read never finds the pipe empty.
    const due = Math.floor(((Date.now() - this.began) * 8) / FRAME_SAMPLES) + 1;
    while (this.sent < due) {
      for (let i = 0; i < FRAME_SAMPLES; i++) {
        this.frame.writeInt16LE(this.tone[this.at]!, i * 2);
        this.at = (this.at + 1) % this.tone.length;
      }
      this.sent++;
      try {
        writeSync(this.fd, this.frame);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue; // full: Twinkle lags, drop a frame
        // EPIPE: Twinkle closed its microphone (call ended, hold): wait for the next opening.
        closeSync(this.fd);
        this.fd = undefined;
        return;
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** The speaker file's number: call.wav is 0, call.wav.0001 is 1 … (ALSA's `file` plugin's numbering). */
function sequence(name: string): number {
  const m = /\.(\d{4})$/.exec(name);
  return m ? Number(m[1]) : 0;
}

/** True when Debian's twinkle-console is installed (the test skips otherwise). */
export function twinkleInstalled(): boolean {
  return existsSync('/usr/bin/twinkle-console');
}
