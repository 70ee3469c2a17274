// The browser softphone (/console/phone): a tenant's SIP user signs in with its SIP credentials and calls and
// answers from the browser — SIP.js over the gateway's SIP WebSocket (RFC 7118), WebRTC media (DTLS-SRTP)
// through voxgate's media relay. Dial pad, mute, hold, hang up; the call history stays in localStorage.
// What the other party sends is measured by a Web Audio analyser on the remote track, readable as
// `window.__voxgatePhone.heardTone(hz)`: the browser tests check the audio path with it.
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { UserAgent, Web, type SessionReferOptions, type URI } from 'sip.js';

const SETTINGS_ITEM = 'voxgate.phone.settings';
const HISTORY_ITEM = 'voxgate.phone.history';
const HISTORY_MAX = 50;

interface Settings {
  username: string;
  domain: string;
  server: string;
}

interface HistoryEntry {
  direction: 'in' | 'out';
  peer: string;
  startedAt: string;
  answered: boolean;
  durationSeconds: number;
}

type CallState = 'idle' | 'calling' | 'ringing' | 'talking';

interface PhoneConfig {
  sipWebSocket?: { port: number | null; securePort: number | null };
}

/** The gateway's SIP WebSocket for this page: wss beside an https page, else ws, on this page's host. */
async function defaultServer(): Promise<string> {
  let config: PhoneConfig = {};
  try {
    config = (await (await fetch('/console/config.json')).json()) as PhoneConfig;
  } catch {
    // The defaults below.
  }
  const host = window.location.hostname.includes(':')
    ? `[${window.location.hostname}]`
    : window.location.hostname;
  const secure = window.location.protocol === 'https:' && config.sipWebSocket?.securePort;
  if (secure) return `wss://${host}:${config.sipWebSocket?.securePort}`;
  return `ws://${host}:${config.sipWebSocket?.port ?? 5066}`;
}

function loadSettings(): Partial<Settings> {
  try {
    return JSON.parse(localStorage.getItem(SETTINGS_ITEM) ?? '{}') as Partial<Settings>;
  } catch {
    return {};
  }
}

function loadHistory(): HistoryEntry[] {
  try {
    const list = JSON.parse(localStorage.getItem(HISTORY_ITEM) ?? '[]') as HistoryEntry[];
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

/** The part of SIP.js's SimpleUser the page needs that it does not expose: who is calling, and REFER. */
interface WithSession {
  session?: {
    remoteIdentity?: { uri?: { toString(): string }; displayName?: string };
    refer(referTo: URI, options?: SessionReferOptions): Promise<unknown>;
  };
}

/** How often the analyser is read (a frame), and its FFT size: 4096 at 48 kHz is an 11.7 Hz bin. */
const FRAME_MS = 50;
const FFT_SIZE = 4096;
/** A frame holds a tone when the bins within ±TONE_BINS of its peak carry this share of the power. */
const TONE_SHARE = 0.5;
const TONE_BINS = 2;
/** Frames quieter than this (total power, dB) are silence, not a tone. */
const MIN_DB = -70;
/** A tone within this of the one asked for counts (the peak is rounded to 10 Hz; a bin is 11.7 Hz wide). */
const TONE_TOLERANCE_HZ = 20;

/** What the analyser measured on the remote audio of the current (or last) call. */
interface Hearing {
  frames: number;
  /** Frames dominated by a tone, by its frequency rounded to 10 Hz. */
  toneFrames: Record<string, number>;
  stop: () => void;
}

let hearing: Hearing | undefined;
let audioContext: AudioContext | undefined;

/** Measures `stream` (the call's remote audio) frame by frame until the next call or `stopHearing`. */
function hear(stream: MediaStream): void {
  hearing?.stop();
  audioContext ??= new AudioContext();
  const context = audioContext;
  if (context.state !== 'running') void context.resume().catch(() => undefined);
  const source = context.createMediaStreamSource(stream);
  const analyser = context.createAnalyser();
  analyser.fftSize = FFT_SIZE;
  analyser.smoothingTimeConstant = 0;
  source.connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const hzPerBin = context.sampleRate / FFT_SIZE;
  const power = new Float64Array(bins.length);
  const state: Hearing = {
    frames: 0,
    toneFrames: {},
    stop: () => {
      window.clearInterval(timer);
      source.disconnect();
    },
  };
  const timer = window.setInterval(() => {
    analyser.getFloatFrequencyData(bins);
    let total = 0;
    let peak = 0;
    for (let i = 0; i < bins.length; i++) {
      const db = bins[i]!;
      power[i] = Number.isFinite(db) ? 10 ** (db / 10) : 0;
      total += power[i]!;
      if (power[i]! > power[peak]!) peak = i;
    }
    state.frames++;
    if (total <= 0 || 10 * Math.log10(total) < MIN_DB) return;
    let near = 0;
    for (let i = Math.max(0, peak - TONE_BINS); i <= Math.min(bins.length - 1, peak + TONE_BINS); i++)
      near += power[i]!;
    if (near / total < TONE_SHARE) return;
    const hz = String(Math.round((peak * hzPerBin) / 10) * 10);
    state.toneFrames[hz] = (state.toneFrames[hz] ?? 0) + 1;
  }, FRAME_MS);
  hearing = state;
}

/**
 * The page's test hook: how long the current (or last) call's remote audio carried `hz`, in milliseconds, and
 * how long was analysed; `tones` lists the tones heard (Hz → ms).
 */
const phoneHook = {
  heardTone(hz: number): { ms: number; analysedMs: number; tones: Record<string, number> } {
    const tones: Record<string, number> = {};
    let frames = 0;
    for (const [f, n] of Object.entries(hearing?.toneFrames ?? {})) {
      tones[f] = n * FRAME_MS;
      if (Math.abs(Number(f) - hz) <= TONE_TOLERANCE_HZ) frames += n;
    }
    return { ms: frames * FRAME_MS, analysedMs: (hearing?.frames ?? 0) * FRAME_MS, tones };
  },
};
declare global {
  interface Window {
    __voxgatePhone?: typeof phoneHook;
  }
}
window.__voxgatePhone = phoneHook;

function peerOf(user: Web.SimpleUser): string {
  const identity = (user as unknown as WithSession).session?.remoteIdentity;
  const uri = identity?.uri?.toString() ?? 'unknown';
  return identity?.displayName ? `${identity.displayName} <${uri}>` : uri;
}

function Phone() {
  const saved = loadSettings();
  const [settings, setSettings] = useState<Settings>({
    username: saved.username ?? '',
    domain: saved.domain ?? '',
    server: saved.server ?? '',
  });
  const [password, setPassword] = useState('');
  const [status, setStatus] = useState<'signed-out' | 'connecting' | 'registered' | 'failed'>('signed-out');
  const [error, setError] = useState('');
  const [info, setInfo] = useState('');
  const [callState, setCallState] = useState<CallState>('idle');
  const [peer, setPeer] = useState('');
  const [target, setTarget] = useState('');
  const [muted, setMuted] = useState(false);
  const [held, setHeld] = useState(false);
  const [history, setHistory] = useState<HistoryEntry[]>(loadHistory);
  const [talkingSince, setTalkingSince] = useState<number | undefined>();
  const [, tick] = useState(0);
  const user = useRef<Web.SimpleUser | undefined>();
  const audio = useRef<HTMLAudioElement>(null);
  const current = useRef<(HistoryEntry & { answeredAtMs?: number }) | undefined>();

  useEffect(() => {
    if (!settings.server)
      void defaultServer().then((server) => setSettings((s) => ({ ...s, server: s.server || server })));
  }, []);
  useEffect(() => {
    const t = window.setInterval(() => tick((n) => n + 1), 1000);
    return () => window.clearInterval(t);
  }, []);

  const remember = (entry: HistoryEntry) => {
    const next = [entry, ...loadHistory()].slice(0, HISTORY_MAX);
    localStorage.setItem(HISTORY_ITEM, JSON.stringify(next));
    setHistory(next);
  };
  const begin = (direction: 'in' | 'out', who: string) => {
    current.current = {
      direction,
      peer: who,
      startedAt: new Date().toISOString(),
      answered: false,
      durationSeconds: 0,
    };
    setPeer(who);
  };
  const finish = () => {
    const entry = current.current;
    if (entry) {
      const { answeredAtMs, ...record } = entry;
      if (answeredAtMs !== undefined) record.durationSeconds = Math.round((Date.now() - answeredAtMs) / 1000);
      remember(record);
    }
    current.current = undefined;
    setInfo('');
    setCallState('idle');
    setMuted(false);
    setHeld(false);
    setTalkingSince(undefined);
    setPeer('');
  };

  const signIn = async (event: Event) => {
    event.preventDefault();
    setError('');
    if (!window.isSecureContext || !navigator.mediaDevices) {
      setError(
        'The browser gives the microphone only to secure pages: open this page over https (with the gateway on ' +
          'wss), or on localhost.',
      );
      return;
    }
    const s = {
      ...settings,
      username: settings.username.trim(),
      domain: settings.domain.trim(),
      server: settings.server.trim(),
    };
    localStorage.setItem(SETTINGS_ITEM, JSON.stringify(s));
    setStatus('connecting');
    const aor = `sip:${s.username}@${s.domain}`;
    const simple = new Web.SimpleUser(s.server, {
      aor,
      media: { constraints: { audio: true, video: false }, remote: { audio: audio.current ?? undefined } },
      userAgentOptions: {
        authorizationUsername: s.username,
        authorizationPassword: password,
        displayName: s.username,
        logLevel: 'warn',
        sessionDescriptionHandlerFactoryOptions: {
          // No public STUN server: the relay is ICE-lite and reachable as the gateway advertises it.
          peerConnectionConfiguration: { iceServers: [] },
          iceGatheringTimeout: 2000,
        },
      },
      delegate: {
        onRegistered: () => setStatus('registered'),
        onUnregistered: () => setStatus((st) => (st === 'registered' ? 'failed' : st)),
        onServerDisconnect: (err) => {
          setStatus('failed');
          setError(err ? `Disconnected from ${s.server}: ${err.message}` : `Disconnected from ${s.server}`);
        },
        onCallReceived: () => {
          begin('in', peerOf(simple));
          setCallState('ringing');
        },
        onCallAnswered: () => {
          const remote = simple.remoteMediaStream;
          if (remote && remote.getAudioTracks().length > 0) {
            try {
              hear(remote);
            } catch (err) {
              console.error(`tone analyser: ${err instanceof Error ? err.message : String(err)}`);
            }
          }
          if (current.current) {
            current.current.answered = true;
            current.current.answeredAtMs = Date.now();
          }
          setTalkingSince(Date.now());
          setCallState('talking');
        },
        onCallHangup: () => {
          // The last call's measures stay readable; the analyser stops.
          hearing?.stop();
          finish();
        },
        onCallHold: (h) => setHeld(h),
      },
    });
    user.current = simple;
    try {
      await simple.connect();
      await simple.register({
        requestDelegate: {
          onReject: (response) => {
            setStatus('failed');
            setError(`Registration refused: ${response.message.statusCode} ${response.message.reasonPhrase}`);
          },
        },
      });
    } catch (err) {
      setStatus('failed');
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  const signOut = async () => {
    const simple = user.current;
    user.current = undefined;
    setStatus('signed-out');
    if (!simple) return;
    await simple.unregister().catch(() => undefined);
    await simple.disconnect().catch(() => undefined);
  };

  const call = async () => {
    const simple = user.current;
    const t = target.trim();
    if (!simple || !t) return;
    setError('');
    const uri = uriOf(t);
    begin('out', uri);
    setCallState('calling');
    try {
      await simple.call(uri, undefined, {
        requestDelegate: {
          onReject: (response) =>
            setError(`Call failed: ${response.message.statusCode} ${response.message.reasonPhrase}`),
        },
      });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      finish();
    }
  };

  /** A user or number of the tenant, or a SIP URI as typed. */
  const uriOf = (typed: string) =>
    typed.startsWith('sip:') ? typed : `sip:${typed}@${settings.domain.trim()}`;

  /** Blind transfer (RFC 3515 REFER): the other party is connected to the target; this call ends. */
  const transfer = async () => {
    const session = user.current && (user.current as unknown as WithSession).session;
    const uri = UserAgent.makeURI(uriOf(target.trim()));
    if (!session || !uri) return setError(`Cannot transfer to ${target}`);
    setInfo(`Transferring to ${uri.toString()}…`);
    try {
      await session.refer(uri, {
        requestDelegate: {
          onAccept: () => setInfo(`Transfer to ${uri.toString()} accepted`),
          onReject: (response) =>
            setError(`Transfer refused: ${response.message.statusCode} ${response.message.reasonPhrase}`),
        },
      });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  const press = (key: string) => {
    if (callState === 'talking') void user.current?.sendDTMF(key).catch(() => undefined);
    else setTarget((t) => t + key);
  };
  const toggleMute = () => {
    const simple = user.current;
    if (!simple) return;
    if (simple.isMuted()) simple.unmute();
    else simple.mute();
    setMuted(simple.isMuted());
  };
  const toggleHold = async () => {
    const simple = user.current;
    if (!simple) return;
    try {
      if (simple.isHeld()) await simple.unhold();
      else await simple.hold();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  const set = (name: keyof Settings) => (e: Event) =>
    setSettings({ ...settings, [name]: (e.currentTarget as HTMLInputElement).value });
  const talking = talkingSince ? Math.round((Date.now() - talkingSince) / 1000) : 0;

  return html`<main class="phone">
    <h1>voxgate phone</h1>
    <audio ref=${audio} autoplay></audio>
    ${
      status === 'signed-out' || status === 'failed'
        ? html`<form class="phone-login" onSubmit=${signIn}>
            <label for="sip-username">Username</label>
            <input
              id="sip-username"
              name="username"
              autocomplete="username"
              value=${settings.username}
              onInput=${set('username')}
            />
            <label for="sip-password">Password</label>
            <input
              id="sip-password"
              name="password"
              type="password"
              autocomplete="current-password"
              value=${password}
              onInput=${(e: Event) => setPassword((e.currentTarget as HTMLInputElement).value)}
            />
            <label for="sip-domain">Domain (the tenant's SIP domain)</label>
            <input
              id="sip-domain"
              name="domain"
              placeholder="acme.example"
              value=${settings.domain}
              onInput=${set('domain')}
            />
            <label for="sip-server">Gateway WebSocket</label>
            <input id="sip-server" name="server" value=${settings.server} onInput=${set('server')} />
            ${error && html`<p class="form-error" role="alert">${error}</p>`}
            <button type="submit" class="primary">Sign in</button>
          </form>`
        : html`<section class="phone-body">
            <p class="phone-status" data-testid="phone-status" data-status=${status}>
              <span class=${status === 'registered' ? 'dot on' : 'dot'}></span>
              ${status === 'registered' ? `Registered as ${settings.username}@${settings.domain}` : 'Connecting…'}
              <button onClick=${signOut}>Sign out</button>
            </p>
            ${error && html`<p class="form-error" role="alert">${error}</p>`}
            ${info && html`<p class="muted" data-testid="phone-info">${info}</p>`}
            <div class="call-box" data-testid="call-state" data-state=${callState}>
              ${callState === 'idle' && html`<span>Ready</span>`}
              ${callState === 'calling' && html`<span>Calling ${peer}…</span>`}
              ${callState === 'ringing' && html`<span>Incoming call from ${peer}</span>`}
              ${
                callState === 'talking' &&
                html`<span
                  >In call with ${peer} ·
                  ${Math.floor(talking / 60)}:${String(talking % 60).padStart(2, '0')}${held ? ' · on hold' : ''}${muted ? ' · muted' : ''}</span
                >`
              }
            </div>
            <input
              class="dial-target"
              aria-label="Number or user to call"
              placeholder="user or number"
              value=${target}
              onInput=${(e: Event) => setTarget((e.currentTarget as HTMLInputElement).value)}
              onKeyDown=${(e: KeyboardEvent) => e.key === 'Enter' && void call()}
            />
            <div class="dialpad">
              ${['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'].map(
                (k) => html`<button type="button" onClick=${() => press(k)}>${k}</button>`,
              )}
            </div>
            <div class="call-actions">
              ${
                callState === 'idle' &&
                html`<button
                  class="primary"
                  data-testid="call"
                  disabled=${status !== 'registered'}
                  onClick=${call}
                >
                  Call
                </button>`
              }
              ${
                callState === 'ringing' &&
                html`<button
                    class="primary"
                    data-testid="answer"
                    onClick=${() => void user.current?.answer().catch((err: Error) => setError(err.message))}
                  >
                    Answer
                  </button>
                  <button class="danger" onClick=${() => void user.current?.decline().catch(() => undefined)}>
                    Decline
                  </button>`
              }
              ${
                (callState === 'calling' || callState === 'talking') &&
                html`<button
                  class="danger"
                  data-testid="hangup"
                  onClick=${() => void user.current?.hangup().catch(() => finish())}
                >
                  Hang up
                </button>`
              }
              ${
                callState === 'talking' &&
                html`<button data-testid="mute" aria-pressed=${String(muted)} onClick=${toggleMute}>
                    ${muted ? 'Unmute' : 'Mute'}
                  </button>
                  <button data-testid="hold" aria-pressed=${String(held)} onClick=${toggleHold}>
                    ${held ? 'Resume' : 'Hold'}
                  </button>
                  <button
                    data-testid="transfer"
                    disabled=${target.trim() === ''}
                    title="Connects the other party to the number or user typed above; this call ends"
                    onClick=${transfer}
                  >
                    Transfer
                  </button>`
              }
            </div>
          </section>`
    }
    <section class="history">
      <h2>Recent calls</h2>
      ${
        history.length === 0
          ? html`<p class="muted">No calls yet.</p>`
          : html`<ul data-testid="history">
              ${history.map(
                (h) =>
                  html`<li>
                    <span>${h.direction === 'in' ? '↙' : '↗'} ${h.peer}</span>
                    <span class="muted"
                      >${new Date(h.startedAt).toLocaleString()} ·
                      ${h.answered ? `${h.durationSeconds} s` : 'not answered'}</span
                    >
                  </li>`,
              )}
            </ul>`
      }
    </section>
  </main>`;
}

render(html`<${Phone} />`, document.getElementById('app')!);
