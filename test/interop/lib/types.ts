/**
 * The interop suite's shared vocabulary: a SIP server under test (voxgate on its defaults, or the reference,
 * Kamailio + RTPengine), a real softphone driven headless, and the outcome of one check. The suite runs in a
 * loopback-only network namespace (scripts/interop.mjs), so every server keeps its standard ports.
 */

/** SIP transports; `ws` is SIP over a plain WebSocket (RFC 7118), what the suite's browser uses. */
export type Transport = 'udp' | 'tcp' | 'tls' | 'ws';

/**
 * `kamailio+voxgate-relay`: the reference's Kamailio and configuration with voxgate's media relay
 * (`--target=media-relay`) in RTPengine's place — voxgate's relay driven by Kamailio's rtpengine module.
 */
export type ServerName = 'voxgate' | 'reference' | 'kamailio+voxgate-relay';

/** A SIP user provisioned on a server. */
export interface Account {
  readonly username: string;
  readonly password: string;
}

/** A registrar + B2BUA/proxy with a media relay, provisioned with the suite's accounts. */
export interface SipServer {
  readonly name: ServerName;
  /** What runs, for the report: "voxgate 0.1.0", "Kamailio 5.6.3 + RTPengine 10.5". */
  readonly description: string;
  /** The SIP domain and digest realm of the accounts. */
  readonly domain: string;
  /** Where clients send SIP: always 127.0.0.1 in the namespace. */
  readonly address: string;
  readonly ports: Readonly<Record<Transport, number>>;
  /** PEM of the TLS certificate the server presents (self-signed), for clients that can pin a CA. */
  readonly caFile: string;
  /** The relay's RTP port range: audio the far end receives must come from it. */
  readonly rtpPorts: readonly [number, number];
  /** Accounts by name: alice, bob, carol, dave, erin (one per client role; see accounts.ts). */
  account(name: string): Account;
  /**
   * Changes a provisioned account's server-side settings (voxgate: PATCH of the SIP user through the API, e.g.
   * `{ mediaEncryption: 'sdes' }`); absent where the server has no such setting. Rejects with the API's problem.
   */
  updateAccount?(name: string, settings: Record<string, unknown>): Promise<void>;
  /**
   * The Prometheus text of voxgate's /metrics (voxgate, and voxgate's relay behind Kamailio); absent on the
   * reference.
   */
  metrics?(): Promise<string>;
  /** A line of the server's own log since start (for diagnosing a failed check). */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** What a client driver is told when it starts. */
export interface ClientOptions {
  readonly server: SipServer;
  readonly transport: Transport;
  readonly account: Account;
  /** A scratch folder of its own for config, HOME, logs and recordings. */
  readonly workDir: string;
  /** A WAV file (8 kHz mono 16-bit) the client plays as its microphone, when it can. */
  readonly toneFile: string;
}

/**
 * A real softphone driven headless. Methods reject with an Error saying what was not seen (with the client's
 * log tail) when the client does not do it within its time. Optional methods are absent when the client
 * cannot be driven to do that headless; the report then says "not drivable", never "passed".
 */
export interface Softphone {
  /** e.g. "baresip", "Linphone (linphonec)", "Twinkle". */
  readonly name: string;
  /** The version the client reports, e.g. "1.0.0". */
  readonly version: string;
  /** SIP stack, e.g. "libre", "belle-sip". */
  readonly stack: string;
  /** Starts the process and waits until its registration succeeds (rejects when it fails or times out). */
  start(options: ClientOptions): Promise<void>;
  /** Calls `uri` (sip:user@domain); resolves when the call is answered (established). */
  call(uri: string): Promise<void>;
  /** Resolves when an incoming call has been answered (the driver sets auto-answer at start). */
  waitAnswered(): Promise<void>;
  /** Hangs up the current call from this side. */
  hangup(): Promise<void>;
  /** Resolves when the current call has ended (the other side hung up). */
  waitEnded(): Promise<void>;
  hold?(): Promise<void>;
  resume?(): Promise<void>;
  /** Sends DTMF digits in the current call (RFC 4733 when the client does). */
  sendDtmf?(digits: string): Promise<void>;
  /**
   * The audio the client received during the last call, as a WAV file path, when the client can record.
   * Called after the call ended.
   */
  recording?(): Promise<string>;
  /**
   * What the client heard of a `hz` tone in the last call, judged inside the client, for a client that cannot
   * hand over a recording (the browser: a Web Audio analyser on the remote track). Called once the call has
   * talked (before or after its end: the client keeps the last call's figures).
   */
  heardTone?(hz: number): Promise<HeardTone>;
  /** The client's log (for the report and for failed checks). */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** A client's own verdict on a tone in its last call (Softphone.heardTone). */
export interface HeardTone {
  readonly heard: boolean;
  /** Ports the media came from, as the client saw them (the browser: its selected ICE pair's remote port). */
  readonly sourcePorts: readonly number[];
  /** What the client saw, for the report: tone time, packets, transport states. */
  readonly detail: string;
}

/** One check of one client against one server. */
export interface CheckResult {
  readonly client: string;
  readonly server: ServerName;
  /** e.g. "register udp", "call out", "audio to far end", "hold", "dtmf", "hangup by client". */
  readonly check: string;
  readonly outcome: 'passed' | 'failed' | 'not drivable';
  readonly detail?: string;
}
