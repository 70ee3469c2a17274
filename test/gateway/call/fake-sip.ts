// In-memory SIP for the call's unit tests: a SipOutbound that records what the call sends and lets the test
// answer each client transaction, a caller's INVITE server transaction that records the responses, and a fake
// relay. A call scenario runs in milliseconds, without sockets.
import {
  buildResponse,
  newBranch,
  parseMessage,
  type ClientTransaction,
  type ClientTransactionEvents,
  type ExtraHeaders,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
} from '../../../src/sip/index.js';
import type { CallEvent } from '../../../src/store/index.js';
import type { MediaSession, MediaTotals } from '../../../src/gateway/media-anchor.js';
import type { LegTarget, SipOutbound } from '../../../src/gateway/sip-outbound.js';
import type { CallHooks, CallSettings, ForkTarget } from '../../../src/gateway/b2bua-call.js';

export const CALLER: LegTarget = { transport: 'udp', address: '192.0.2.10', port: 5060 };

export function parse<T extends SipRequest | SipResponse>(bytes: Buffer): T {
  return parseMessage(bytes, { datagram: false }) as T;
}

/** Lets pending promise callbacks (a relay's answer, a relayed response) run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Waits until `done()` holds, for at most `boundMs`: a timer under test may run late on a busy machine. */
export async function until(done: () => boolean, boundMs = 5000): Promise<void> {
  for (const stop = Date.now() + boundMs; !done() && Date.now() < stop;) await sleep(5);
}

/** A client transaction the call started: the test answers it like the callee would. */
export class FakeClientTransaction implements ClientTransaction {
  state: ClientTransaction['state'] = 'calling';
  constructor(
    readonly request: SipRequest,
    readonly target: LegTarget,
    private readonly events: Omit<ClientTransactionEvents, 'terminated'>,
  ) {}

  /** The callee answers: a response with `toTag` (and a Contact for 1xx/2xx to INVITE). */
  reply(status: number, toTag: string, extra: ExtraHeaders = {}, body?: Buffer): SipResponse {
    const response = this.response(status, toTag, extra, body);
    if (status >= 200)
      this.state = status < 300 && this.request.method === 'INVITE' ? 'accepted' : 'completed';
    else this.state = 'proceeding';
    this.events.response(response);
    return response;
  }

  /** A response of the callee that this transaction does not see (a stray 2xx after Timer M). */
  response(status: number, toTag: string, extra: ExtraHeaders = {}, body?: Buffer): SipResponse {
    const headers: ExtraHeaders =
      status > 100 && status < 300 ? { Contact: '<sip:callee@192.0.2.20:5060>', ...extra } : extra;
    return parse<SipResponse>(
      buildResponse(this.request, status, status === 100 ? 'Trying' : 'Reason', headers, body, toTag),
    );
  }

  /** Timer B/F fired. */
  timeout(): void {
    this.state = 'terminated';
    this.events.timeout();
  }

  receive(): void {}

  terminate(): void {
    this.state = 'terminated';
  }
}

export interface Sent {
  readonly request: SipRequest;
  readonly target: LegTarget;
  /** Undefined for what was sent without a transaction (the ACK of a 2xx). */
  readonly tx: FakeClientTransaction | undefined;
}

export class FakeOutbound implements SipOutbound {
  readonly sent: Sent[] = [];

  via(): string {
    return `SIP/2.0/UDP 192.0.2.1:5060;branch=${newBranch()};rport`;
  }

  address(): { host: string; port: number } {
    return { host: '192.0.2.1', port: 5060 };
  }

  contact(): string {
    return '<sip:192.0.2.1:5060>';
  }

  request(
    bytes: Buffer,
    target: LegTarget,
    events: Omit<ClientTransactionEvents, 'terminated'>,
  ): ClientTransaction {
    const tx = new FakeClientTransaction(parse(bytes), target, events);
    this.sent.push({ request: tx.request, target, tx });
    return tx;
  }

  send(bytes: Buffer, target: LegTarget): void {
    this.sent.push({ request: parse(bytes), target, tx: undefined });
  }

  /** The requests sent with `method` in client transactions, in order. */
  transactions(method: string): (Sent & { tx: FakeClientTransaction })[] {
    return this.all(method).filter((s): s is Sent & { tx: FakeClientTransaction } => s.tx !== undefined);
  }

  /** Everything sent with `method`, in order (optionally to one Call-ID). */
  all(method: string, callId?: string): Sent[] {
    return this.sent.filter(
      (s) => s.request.method === method && (callId === undefined || s.request.callId === callId),
    );
  }

  /** The last request sent with `method`; fails the test when there is none. */
  last(method: string, callId?: string): Sent & { tx: FakeClientTransaction } {
    const found = this.all(method, callId).at(-1);
    if (!found) throw new Error(`no ${method} was sent`);
    return found as Sent & { tx: FakeClientTransaction };
  }
}

export interface Responded {
  readonly status: number;
  readonly reason: string;
  readonly headers: ExtraHeaders;
  readonly body: Buffer;
}

/** The caller's INVITE server transaction (or one of its in-dialog requests'). */
export class FakeServerTransaction implements ServerTransaction {
  readonly responses: Responded[] = [];
  state: ServerTransaction['state'] = 'proceeding';
  constructor(
    readonly request: SipRequest,
    readonly toTag = 'caller-leg-tag',
  ) {}

  respond(status: number, reason: string, headers: ExtraHeaders = {}, body: Buffer = Buffer.alloc(0)): void {
    this.responses.push({ status, reason, headers, body });
    if (status >= 200) this.state = status < 300 ? 'accepted' : 'completed';
  }

  /** Whether the call told the transaction that its 2xx is retransmitted no more. */
  acknowledgedCalls = 0;

  receive(): 'absorbed' {
    return 'absorbed';
  }

  acknowledged(): void {
    this.acknowledgedCalls++;
  }

  terminate(): void {
    this.state = 'terminated';
  }

  /** The statuses responded, in order. */
  get statuses(): number[] {
    return this.responses.map((r) => r.status);
  }

  final(): Responded | undefined {
    return this.responses.find((r) => r.status >= 200);
  }
}

/** The caller's request `method` in its dialog with the gateway (or the INVITE when `toTag` is undefined). */
export function callerRequest(
  method: string,
  options: { callId?: string; cseq: number; toTag?: string; headers?: string[]; body?: Buffer } = { cseq: 1 },
): SipRequest {
  const body = options.body ?? Buffer.alloc(0);
  const lines = [
    `${method} sip:bob@voxgate.example SIP/2.0`,
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=${newBranch()}`,
    'Max-Forwards: 70',
    'From: <sip:alice@acme.example>;tag=alice-tag',
    `To: <sip:bob@acme.example>${options.toTag ? `;tag=${options.toTag}` : ''}`,
    `Call-ID: ${options.callId ?? 'caller-call-id'}`,
    `CSeq: ${options.cseq} ${method === 'ACK' && options.cseq === 1 ? 'ACK' : method}`,
    'Contact: <sip:alice@192.0.2.10:5060>',
    ...(options.headers ?? []),
    ...(body.length > 0 ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${body.length}`,
    '',
    '',
  ];
  return parse(Buffer.concat([Buffer.from(lines.join('\r\n')), body]));
}

/** A request the callee sends in its dialog with the gateway (`sent` is the INVITE it answered). */
export function calleeRequest(
  invite: SipRequest,
  toTag: string,
  method: string,
  cseq: number,
  body: Buffer = Buffer.alloc(0),
): SipRequest {
  const from = invite.headers.find((h) => h.name === 'From')!.value;
  const to = invite.headers.find((h) => h.name === 'To')!.value;
  const lines = [
    `${method} sip:192.0.2.1:5060 SIP/2.0`,
    `Via: SIP/2.0/UDP 192.0.2.20:5060;branch=${newBranch()}`,
    'Max-Forwards: 70',
    `From: ${to};tag=${toTag}`,
    `To: ${from}`,
    `Call-ID: ${invite.callId}`,
    `CSeq: ${cseq} ${method}`,
    'Contact: <sip:callee@192.0.2.20:5060>',
    ...(body.length > 0 ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${body.length}`,
    '',
    '',
  ];
  return parse(Buffer.concat([Buffer.from(lines.join('\r\n')), body]));
}

export function sdp(name: string): Buffer {
  return Buffer.from(
    `v=0\r\no=${name} 1 1 IN IP4 192.0.2.99\r\ns=-\r\nc=IN IP4 192.0.2.99\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n`,
  );
}

/** A relay that marks each SDP it rewrites, and can be told to fail. */
export class FakeMedia implements MediaSession {
  readonly relay = 'fake:2223';
  readonly commands: string[] = [];
  failOffers = false;
  failAnswers = false;
  deleted = false;
  packets = 0;

  async offer(side: 'caller' | 'callee', body: Buffer): Promise<Buffer> {
    this.commands.push(`offer ${side}`);
    await settle();
    if (this.failOffers) throw new Error('relay down');
    return Buffer.from(`anchored offer from ${side} (${body.length})`);
  }

  async answer(side: 'caller' | 'callee', body: Buffer): Promise<Buffer> {
    this.commands.push(`answer ${side}`);
    await settle();
    if (this.failAnswers) throw new Error('relay down');
    return Buffer.from(`anchored answer from ${side} (${body.length})`);
  }

  async query(): Promise<{ totals: MediaTotals }> {
    await settle();
    return { totals: { callerToCallee: { packets: this.packets, bytes: 0, lost: 0, jitterMs: 0 } } };
  }

  async delete(): Promise<MediaTotals | undefined> {
    this.deleted = true;
    await settle();
    return undefined;
  }

  recording = false;

  async startRecording(): Promise<void> {
    this.commands.push('start recording');
    await settle();
    this.recording = true;
  }

  async stopRecording(): Promise<string[]> {
    this.commands.push('stop recording');
    await settle();
    this.recording = false;
    return [];
  }
}

export const FAST: CallSettings = {
  t1: 5,
  t2: 40,
  ringTimeoutMs: 5000,
  maxDurationMs: 60_000,
  mediaTimeoutMs: 0,
};

/** Hooks that record the call's events, warnings and legs. */
export function recordingHooks(redirect?: CallHooks['redirect']): CallHooks & {
  events: CallEvent[];
  warnings: string[];
  legs: string[];
  ended: () => void;
  endedCount: () => number;
} {
  const events: CallEvent[] = [];
  const warnings: string[] = [];
  const legs: string[] = [];
  let ended = 0;
  return {
    events,
    warnings,
    legs,
    registerLeg: (callId) => legs.push(callId),
    event: (e) => events.push(e),
    ended: () => {
      ended += 1;
    },
    endedCount: () => ended,
    warn: (_detail, message) => warnings.push(message),
    ...(redirect ? { redirect } : {}),
  };
}

export const target = (name: string, extra: Partial<ForkTarget> = {}): ForkTarget => ({
  uri: `sip:${name}@192.0.2.20:5060`,
  target: { transport: 'udp', address: '192.0.2.20', port: 5060 },
  ...extra,
});
