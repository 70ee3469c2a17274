// A carrier for gateway tests: one UDP socket on its own loopback address (127.0.0.2, 127.0.0.3 …, so that the
// phones on 127.0.0.1 are not mistaken for it) that answers the INVITE, OPTIONS and REGISTER requests the
// gateway sends as a test tells it, and places inbound calls to the gateway's DIDs (or to the Contact the
// gateway registered with it).
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import {
  buildRequest,
  buildResponse,
  parseMessage,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/index.js';

export type CarrierMethod = 'INVITE' | 'OPTIONS' | 'REGISTER' | 'ACK' | 'BYE' | 'CANCEL';

/** A response the carrier sends: status, and optionally reason, headers, SDP body and To tag. */
export interface CarrierResponse {
  readonly status: number;
  readonly reason?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer;
  readonly toTag?: string;
}

/** How a carrier answers a kind of request on its own: a response, or nothing (a carrier that is down). */
export type CarrierRule = CarrierResponse | 'ignore' | ((request: SipRequest) => CarrierResponse | 'ignore');

const REASONS: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  183: 'Session Progress',
  200: 'OK',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  480: 'Temporarily Unavailable',
  486: 'Busy Here',
  487: 'Request Terminated',
  500: 'Server Internal Error',
  503: 'Service Unavailable',
};

const token = () => randomBytes(6).toString('hex');
const transactionKey = (request: SipRequest) =>
  `${request.callId} ${request.cseq.seq} ${request.cseq.method}`;

/** An INVITE the carrier sent to the gateway: its Call-ID and the gateway's responses to it. */
export interface InboundCall {
  readonly callId: string;
  /** The gateway's response with `status` (or the first matching `status`) to this INVITE. */
  response(status: number | ((s: number) => boolean), ms?: number): Promise<SipResponse>;
}

export class FakeCarrier {
  /** Requests received and not answered by a rule, oldest first, until a test takes them. */
  readonly requests: SipRequest[] = [];
  /** Every message received, for assertions (answered or not). */
  readonly received: SipMessage[] = [];
  /** Responses received that no waiter took yet. */
  private readonly pending: SipMessage[] = [];
  private readonly rules = new Map<string, CarrierRule>();
  /**
   * The transactions seen (Call-ID, CSeq), with the response sent if any: a retransmitted request is absorbed
   * as a UAS transaction would (§17.2), the last response sent again, so that a slow test does not take a
   * retransmission for the gateway's next request.
   */
  private readonly transactions = new Map<string, Buffer | undefined>();
  private waiters: { match: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void }[] = [];

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    readonly port: number,
    private readonly gatewayPort: number,
  ) {
    socket.on('message', (bytes) => this.receive(parseMessage(bytes, { datagram: true })));
  }

  static async open(gatewayPort: number, address = '127.0.0.2'): Promise<FakeCarrier> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return new FakeCarrier(socket, address, socket.address().port, gatewayPort);
  }

  get contact(): string {
    return `<sip:carrier@${this.address}:${this.port}>`;
  }

  /** From now on, requests of `method` are answered by `rule` without the test taking them. */
  answer(method: CarrierMethod, rule: CarrierRule): this {
    this.rules.set(method, rule);
    return this;
  }

  /** The next request of `method` the gateway sends that no rule answered (or one already received). */
  next(method: CarrierMethod, ms = 5000): Promise<SipRequest> {
    return this.waitFor(
      (m) => m.kind === 'request' && m.method === method,
      ms,
      method,
    ) as Promise<SipRequest>;
  }

  /** Answers a request the test took with `next`. */
  reply(request: SipRequest, status: number, options: Omit<CarrierResponse, 'status'> = {}): void {
    this.respond(request, { status, ...options });
  }

  /**
   * Places a call from the carrier's address to `number` at the gateway (an inbound call to a DID). With
   * `requestUser` the Request-URI names that user instead of the number (a carrier that sends its calls to the
   * Contact the gateway registered with it, the number staying in To).
   */
  invite(number: string, options: { body?: Buffer; from?: string; requestUser?: string } = {}): InboundCall {
    const callId = `carrier-${token()}`;
    const { body } = options;
    this.sendToGateway(
      buildRequest(
        'INVITE',
        `sip:${options.requestUser ?? number}@127.0.0.1:${this.gatewayPort}`,
        [
          { name: 'Via', value: `SIP/2.0/UDP ${this.address}:${this.port};branch=z9hG4bK${token()};rport` },
          { name: 'Max-Forwards', value: '70' },
          { name: 'From', value: `<sip:${options.from ?? '+15550001234'}@${this.address}>;tag=${token()}` },
          { name: 'To', value: `<sip:${number}@127.0.0.1>` },
          { name: 'Call-ID', value: callId },
          { name: 'CSeq', value: '1 INVITE' },
          { name: 'Contact', value: this.contact },
          ...(body && body.length > 0 ? [{ name: 'Content-Type', value: 'application/sdp' }] : []),
        ],
        body,
      ),
    );
    return {
      callId,
      response: (status, ms = 5000) => {
        const ok = typeof status === 'number' ? (s: number) => s === status : status;
        return this.waitFor(
          (m) => m.kind === 'response' && m.callId === callId && ok(m.status) && m.cseq.method === 'INVITE',
          ms,
          `response ${String(status)} to ${callId}`,
        ) as Promise<SipResponse>;
      },
    };
  }

  close(): void {
    this.socket.close();
  }

  private receive(message: SipMessage): void {
    this.received.push(message);
    if (message.kind === 'request' && message.method !== 'ACK') {
      const key = transactionKey(message);
      if (this.transactions.has(key)) {
        const last = this.transactions.get(key);
        if (last) this.sendToGateway(last);
        return;
      }
      this.transactions.set(key, undefined);
    }
    if (message.kind === 'request') {
      const rule = this.rules.get(message.method);
      const decided = typeof rule === 'function' ? rule(message) : rule;
      if (decided === 'ignore') return;
      if (decided) return this.respond(message, decided);
    }
    const i = this.waiters.findIndex((w) => w.match(message));
    if (i >= 0) this.waiters.splice(i, 1)[0]?.resolve(message);
    else if (message.kind === 'request') this.requests.push(message);
    else this.pending.push(message);
  }

  private waitFor(match: (m: SipMessage) => boolean, ms: number, what: string): Promise<SipMessage> {
    for (const queue of [this.requests, this.pending] as SipMessage[][]) {
      const i = queue.findIndex(match);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0] as SipMessage);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`carrier ${this.address}: no ${what} within ${ms} ms`));
      }, ms);
      const done = (m: SipMessage) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push({ match, resolve: done });
    });
  }

  private respond(request: SipRequest, response: CarrierResponse): void {
    // An ACK is never answered.
    if (request.method === 'ACK') return;
    const { body } = response;
    const headers = {
      // A registrar's response lists the registered bindings in Contact (§10.3), never the registrar itself.
      ...(request.method === 'REGISTER' ? {} : { Contact: this.contact }),
      ...response.headers,
      ...(body && body.length > 0 ? { 'Content-Type': 'application/sdp' } : {}),
    };
    const reason = response.reason ?? REASONS[response.status] ?? 'Response';
    const toTag = response.toTag ?? `c${token()}`;
    const bytes = buildResponse(request, response.status, reason, headers, body, toTag);
    this.transactions.set(transactionKey(request), bytes);
    this.sendToGateway(bytes);
  }

  private sendToGateway(bytes: Buffer): void {
    this.socket.send(bytes, this.gatewayPort, '127.0.0.1');
  }
}
