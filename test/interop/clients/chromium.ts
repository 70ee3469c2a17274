// The interop suite's browser: Debian's Chromium, headless, driven by playwright-core, as a WebRTC softphone —
// the page test/interop/fixtures/webrtc/ (SIP.js from node_modules/sip.js/lib, served as-is) registers over a
// plain WebSocket (SIP over WS, RFC 7118), places and auto-answers calls with Chromium's fake microphone
// playing the suite's tone file, and judges what it hears with a Web Audio analyser on the remote track
// (heardTone). A tiny node:http server on 127.0.0.1 serves the page. Chromium's flags: fake media UI and
// device, loopback ICE candidates allowed (without them getUserMedia is denied and ICE finds no candidate).
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { sleep } from '../lib/scenario.js';
import type { ClientOptions, HeardTone, SipServer, Softphone } from '../lib/types.js';

const PAGE_DIR = fileURLToPath(new URL('../fixtures/webrtc/', import.meta.url));
/** SIP.js's ES modules (lib/index.js and its relative imports), served under /sip.js/. */
const SIP_JS_DIR = fileURLToPath(new URL('.', import.meta.resolve('sip.js')));
const SIP_JS_VERSION = (
  JSON.parse(readFileSync(join(SIP_JS_DIR, '..', 'package.json'), 'utf8')) as { version: string }
).version;

/** Where Debian and other distributions put Chromium; VOXGATE_INTEROP_CHROMIUM overrides. */
const CHROMIUM_PATHS = [
  // Debian's /usr/bin/chromium is a shell wrapper around this binary.
  '/usr/lib/chromium/chromium',
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/lib/chromium-browser/chromium-browser',
  '/usr/bin/google-chrome',
];

/** How long the page analyses each frame (phone.js FRAME_MS) and how much tone makes "heard" (as audio.ts). */
const FRAME_MS = 50;
const HEARD_MS = 1000;
/** Frames counted for a tone: the page rounds the peak frequency to 10 Hz; its bin is 11.7 Hz wide. */
const TONE_TOLERANCE_HZ = 20;
const CALL_MS = 20_000;
const END_MS = 15_000;

/** One RTCPeerConnection state snapshot the page took (phone.js snapshotStates). */
export interface PeerConnectionStates {
  readonly at: number;
  readonly why: string;
  readonly signaling: string;
  readonly iceGathering: string;
  readonly ice: string;
  readonly dtls: string;
  readonly connection: string;
}

/** The page's record of one call (phone.js track()). */
export interface BrowserCall {
  readonly direction: 'in' | 'out';
  readonly peer: string;
  readonly startedAt: number;
  readonly state: string;
  readonly establishedAt?: number;
  readonly endedAt?: number;
  readonly endReason?: string;
  /** Chromium's own SDP (its offer on a call out, its answer on a call in). */
  readonly localSdp?: string;
  /** The server's SDP as Chromium applied it (the answer on a call out, the offer on a call in). */
  readonly remoteSdp?: string;
  /**
   * The server's SDP as it arrived in SIP (the 2xx's answer on a call out, the INVITE's offer on a call in),
   * kept even when Chromium refused to apply it.
   */
  readonly serverSdp?: string;
  /** The first error SIP.js's session layer logged while the call was set up (a refused SDP …). */
  readonly mediaError?: string;
  readonly states: readonly PeerConnectionStates[];
  readonly rtp: {
    readonly packetsReceived: number;
    readonly bytesReceived: number;
    readonly packetsSent: number;
    readonly bytesSent: number;
  };
  readonly selectedPair?: { readonly local: string; readonly remote: string; readonly state: string };
  readonly remoteCandidatePorts: readonly number[];
  /** Analyser frames read, and frames dominated by a tone, by its frequency rounded to 10 Hz. */
  readonly frames: number;
  readonly toneFrames: Readonly<Record<string, number>>;
  readonly detectorError?: string;
}

interface PageState {
  readonly registered: boolean;
  readonly inCall: boolean;
  readonly calls: readonly BrowserCall[];
}

export function findChromium(): string {
  const override = process.env.VOXGATE_INTEROP_CHROMIUM;
  const found = override ? [override] : CHROMIUM_PATHS.filter((p) => existsSync(p));
  if (!found[0]) {
    throw new Error(
      `chromium: not installed (Debian package chromium; looked at ${CHROMIUM_PATHS.join(', ')}; ` +
        'VOXGATE_INTEROP_CHROMIUM names another binary)',
    );
  }
  return found[0];
}

export class Chromium implements Softphone {
  readonly name = 'Chromium (WebRTC, SIP.js)';
  version = '';
  readonly stack = `SIP.js ${SIP_JS_VERSION}`;
  private browser: Browser | undefined;
  private page: Page | undefined;
  private http: Server | undefined;
  private readonly log: string[] = [];
  /** The index in the page's calls of the last incoming call a waitAnswered() took. */
  private lastIncoming = -1;

  async start(options: ClientOptions): Promise<void> {
    const { server, transport, account, toneFile } = options;
    if (transport !== 'ws') throw new Error(`chromium: SIP over ${transport} is not a browser transport`);
    this.http = await serveStatic();
    const pagePort = (this.http.address() as AddressInfo).port;
    this.browser = await chromium.launch({
      executablePath: findChromium(),
      headless: true,
      args: [
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${toneFile}`,
        '--allow-loopback-in-peer-connection',
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    this.version = this.browser.version();
    const page = await this.browser.newPage();
    this.page = page;
    page.on('console', (message) => this.keep(message.text()));
    page.on('pageerror', (err) => this.keep(`page error: ${err.message}`));
    page.on('crash', () => this.keep('page crashed'));
    await page.goto(`http://127.0.0.1:${pagePort}/index.html`);
    await page.waitForFunction('window.voxPhoneReady === true', undefined, { timeout: 10_000 });
    await this.evaluate(
      `window.voxPhone.start(${JSON.stringify({
        server: webSocketUrl(server),
        aor: `sip:${account.username}@${server.domain}`,
        username: account.username,
        password: account.password,
      })})`,
      15_000,
      'registration',
    );
  }

  async call(uri: string): Promise<void> {
    await this.evaluate(`window.voxPhone.call(${JSON.stringify(uri)})`, CALL_MS, `call to ${uri}`);
  }

  async waitAnswered(): Promise<void> {
    // The page may take the INVITE before a count of its calls comes back: incoming calls are consumed in
    // order instead, each by one waitAnswered().
    const deadline = Date.now() + CALL_MS;
    for (;;) {
      const calls = (await this.state()).calls;
      const index = calls.findIndex((c, i) => i > this.lastIncoming && c.direction === 'in');
      const incoming = calls[index];
      if (incoming?.establishedAt) {
        this.lastIncoming = index;
        return;
      }
      if (incoming?.endedAt) {
        this.lastIncoming = index;
        throw new Error(`chromium: the incoming call ended unanswered (${incoming.endReason ?? '?'})`);
      }
      if (Date.now() > deadline)
        throw new Error(
          `chromium: ${incoming ? 'incoming call not established' : 'no incoming call'} within ${CALL_MS} ms`,
        );
      await sleep(100);
    }
  }

  async hangup(): Promise<void> {
    await this.evaluate('window.voxPhone.hangup()', END_MS, 'hang-up');
    await this.waitEnded();
  }

  async waitEnded(): Promise<void> {
    const deadline = Date.now() + END_MS;
    for (;;) {
      const last = await this.lastCall();
      if (last?.endedAt !== undefined) return;
      if (Date.now() > deadline)
        throw new Error(
          `chromium: the call did not end within ${END_MS} ms (state ${last?.state ?? 'no call'})`,
        );
      await sleep(100);
    }
  }

  /** The page's record of the last call (SDP, ICE/DTLS/connection states, RTP counters, tones). */
  async lastCall(): Promise<BrowserCall | undefined> {
    return (await this.state()).calls.at(-1);
  }

  async heardTone(hz: number): Promise<HeardTone> {
    const call = await this.lastCall();
    if (!call) return { heard: false, sourcePorts: [], detail: 'the browser had no call' };
    const judged = judgeTone(call, hz);
    return { heard: judged.heard, sourcePorts: call.remoteCandidatePorts, detail: judged.detail };
  }

  logTail(lines = 60): string {
    return this.log.slice(-lines).join('\n');
  }

  async stop(): Promise<void> {
    if (this.page && !this.page.isClosed()) {
      await this.evaluate('window.voxPhone.stop()', 5000, 'stop').catch(() => undefined);
    }
    await this.browser?.close().catch(() => undefined);
    this.browser = undefined;
    const http = this.http;
    this.http = undefined;
    if (http) await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  private keep(line: string): void {
    this.log.push(line);
    if (this.log.length > 3000) this.log.splice(0, this.log.length - 3000);
  }

  private async state(): Promise<PageState> {
    return (await this.evaluate('window.voxPhone.state()', 5000, 'state')) as PageState;
  }

  /** Evaluates `expression` in the page (awaiting a promise), rejecting after `ms` with `what` in the error. */
  private async evaluate(expression: string, ms: number, what: string): Promise<unknown> {
    const page = this.page;
    if (!page) throw new Error('chromium: not started');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`chromium: no ${what} within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([page.evaluate(expression), timeout]);
    } catch (err) {
      const message = (err as Error).message.replace(/^page\.evaluate: (Error: )?/, '').split('\n')[0];
      throw new Error(`chromium: ${what}: ${message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** ws://address:port of the server's SIP WebSocket. */
export function webSocketUrl(server: SipServer): string {
  return `ws://${server.address}:${server.ports.ws}`;
}

/**
 * Whether the browser heard `hz` for at least HEARD_MS in `call`, and, when it did not, why, from the first
 * thing that did not happen: ICE connected, DTLS connected, RTP received, the tone in it.
 */
export function judgeTone(call: BrowserCall, hz: number): { heard: boolean; detail: string } {
  const near = Object.entries(call.toneFrames)
    .filter(([f]) => Math.abs(Number(f) - hz) <= TONE_TOLERANCE_HZ)
    .reduce((sum, [, n]) => sum + n, 0);
  const toneMs = near * FRAME_MS;
  const others = Object.entries(call.toneFrames)
    .filter(([f]) => Math.abs(Number(f) - hz) > TONE_TOLERANCE_HZ)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([f, n]) => `${f} Hz ${((n * FRAME_MS) / 1000).toFixed(1)} s`);
  const heard = toneMs >= HEARD_MS;
  const pair = call.selectedPair ? `${call.selectedPair.local} ⇄ ${call.selectedPair.remote}` : 'none';
  const facts =
    `${hz} Hz heard for ${(toneMs / 1000).toFixed(1)} s of ${((call.frames * FRAME_MS) / 1000).toFixed(1)} s ` +
    `analysed${others.length > 0 ? ` (other tones: ${others.join(', ')})` : ''}; ` +
    `RTP received ${call.rtp.packetsReceived} packets, sent ${call.rtp.packetsSent}; ` +
    `selected ICE pair ${pair}; ` +
    `states: ${describeStates(call.states)}`;
  if (heard) return { heard, detail: facts };
  const ever = (key: 'ice' | 'dtls' | 'connection', values: string[]) =>
    call.states.some((s) => values.includes(s[key]));
  const reason = !call.remoteSdp
    ? 'the browser never applied an SDP from the server'
    : !ever('ice', ['connected', 'completed'])
      ? 'ICE never connected'
      : !ever('dtls', ['connected'])
        ? 'DTLS never connected'
        : call.rtp.packetsReceived === 0
          ? 'no RTP reached the browser after DTLS connected'
          : call.detectorError
            ? `the tone detector failed: ${call.detectorError}`
            : `RTP arrived but the ${hz} Hz tone was not heard`;
  return { heard, detail: `${reason}: ${facts}` };
}

/** "new/new/new → checking/connecting/new → …" as ice/dtls/connection, consecutive duplicates dropped. */
export function describeStates(states: readonly PeerConnectionStates[]): string {
  const steps: string[] = [];
  for (const s of states) {
    const step = `ice ${s.ice}, dtls ${s.dtls}, pc ${s.connection}`;
    if (steps.at(-1) !== step) steps.push(step);
  }
  return steps.length > 0 ? steps.join(' → ') : 'no RTCPeerConnection';
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

/** Serves the page's folder at / and SIP.js's lib folder at /sip.js/ on 127.0.0.1, on a port the OS picks. */
async function serveStatic(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const [root, rest] = path.startsWith('/sip.js/')
      ? [SIP_JS_DIR, path.slice('/sip.js/'.length)]
      : [PAGE_DIR, path.slice(1)];
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = normalize(join(root, rest));
    const type = CONTENT_TYPES[extname(file)];
    if (!file.startsWith(root.endsWith(sep) ? root : `${root}${sep}`) || !type || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return server;
}
