import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  answerChallenge,
  buildRequest,
  buildResponse,
  header,
  headerValues,
  newTag,
  parseMessage,
  type SipHeader,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/index.js';

/** An SDP offer/answer with one audio stream at `port` on 127.0.0.1. */
export function sdp(port: number, sessionId = 1): Buffer {
  return Buffer.from(
    [
      'v=0',
      `o=phone ${sessionId} ${sessionId} IN IP4 127.0.0.1`,
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${port} RTP/AVP 8 0 101`,
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=sendrecv',
      '',
    ].join('\r\n'),
  );
}

const branch = () => `z9hG4bK${randomBytes(8).toString('hex')}`;

/**
 * A test phone on a real UDP socket: registers with digest, places and answers calls, with every message
 * it receives kept for assertions. It speaks just enough SIP for the gateway's scenarios; the gateway never
 * knows it is not a real UA.
 */
export class SipPhone {
  readonly received: SipMessage[] = [];
  /** Where each received message came from. */
  readonly origins = new WeakMap<SipMessage, RemoteInfo>();
  private waiters: { match: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void }[] = [];
  private cseq = 1;
  private constructor(
    readonly user: string,
    private readonly password: string,
    private readonly socket: Socket,
    readonly port: number,
    private readonly gatewayPort: number,
    readonly domain: string,
    readonly address = '127.0.0.1',
  ) {
    socket.on('message', (bytes, from) => {
      const message = parseMessage(bytes, { datagram: true });
      this.origins.set(message, from);
      this.received.push(message);
      const i = this.waiters.findIndex((w) => w.match(message));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(message);
    });
  }

  static async open(
    user: string,
    password: string,
    gatewayPort: number,
    domain = 'acme.example',
    bindAddress = '127.0.0.1',
  ): Promise<SipPhone> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, bindAddress, resolve));
    return new SipPhone(user, password, socket, socket.address().port, gatewayPort, domain, bindAddress);
  }

  get contact(): string {
    return `<sip:${this.user}@${this.address}:${this.port}>`;
  }

  send(bytes: Buffer): void {
    this.socket.send(bytes, this.gatewayPort, '127.0.0.1');
  }

  /** Resolves with the first message (already received or arriving) matching, or rejects after `ms`. */
  waitFor(match: (m: SipMessage) => boolean, ms = 5000, what = 'a message'): Promise<SipMessage> {
    const seen = this.received.find(match);
    if (seen) {
      this.received.splice(this.received.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(
          new Error(
            `${this.user}: no ${what} within ${ms} ms; got ${this.received.map(describe).join(', ')}`,
          ),
        );
      }, ms);
      const done = (m: SipMessage) => {
        clearTimeout(timer);
        this.received.splice(this.received.indexOf(m), 1);
        resolve(m);
      };
      this.waiters.push({ match, resolve: done });
    });
  }

  /**
   * The next request of `method` (of the call `callId` if given: a wait of seconds for a request the gateway
   * sends late, such as the CANCEL at 64*T1, should name its call, as a phone's port may be one a phone of
   * another test file had, whose gateway still retransmits to it).
   */
  request(method: string, ms = 5000, callId?: string): Promise<SipRequest> {
    // A retransmission of an INVITE already taken (the gateway resends it every T1 until a provisional reaches
    // it, so on a busy machine one can arrive after the test took the first) is not the next INVITE.
    const key = (m: SipRequest) => `${m.callId} ${m.cseq.seq} ${m.topVia}`;
    return this.waitFor(
      (m) =>
        m.kind === 'request' &&
        m.method === method &&
        (callId === undefined || m.callId === callId) &&
        !(method === 'INVITE' && this.invites.has(key(m))),
      ms,
      method,
    ).then((m) => {
      if (method === 'INVITE') this.invites.add(key(m as SipRequest));
      return m as SipRequest;
    });
  }
  /** The INVITEs `request` returned, by Call-ID, CSeq and top Via. */
  private readonly invites = new Set<string>();

  response(
    callId: string,
    status: number | ((s: number) => boolean),
    method?: string,
    ms = 5000,
    seq?: number,
  ): Promise<SipResponse> {
    const ok = typeof status === 'number' ? (s: number) => s === status : status;
    return this.waitFor(
      (m) =>
        m.kind === 'response' &&
        m.callId === callId &&
        ok(m.status) &&
        (!method || m.cseq.method === method) &&
        (seq === undefined || m.cseq.seq === seq),
      ms,
      `response ${String(status)} to ${callId}`,
    ) as Promise<SipResponse>;
  }

  /** REGISTER, answering the digest challenge. */
  async register(expires = 600): Promise<SipResponse> {
    const callId = randomBytes(8).toString('hex');
    const uri = `sip:${this.domain}`;
    const build = (extra: SipHeader[]) =>
      buildRequest('REGISTER', uri, [
        { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch()};rport` },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `<sip:${this.user}@${this.domain}>;tag=${newTag()}` },
        { name: 'To', value: `<sip:${this.user}@${this.domain}>` },
        { name: 'Call-ID', value: callId },
        { name: 'CSeq', value: `${this.cseq++} REGISTER` },
        { name: 'Contact', value: this.contact },
        { name: 'Expires', value: String(expires) },
        ...extra,
      ]);
    this.send(build([]));
    const challenge = await this.response(callId, 401);
    const answer = answerChallenge({
      challenges: headerValues(challenge, 'WWW-Authenticate'),
      method: 'REGISTER',
      uri,
      username: this.user,
      password: this.password,
    });
    if (!answer) throw new Error('no usable challenge');
    this.send(build([{ name: 'Authorization', value: answer.authorization }]));
    return this.response(callId, (s) => s >= 200);
  }

  /**
   * Sends an INVITE to `target` (a user of the domain), answers the 407 with credentials, and returns the
   * call's handle. `body` defaults to an SDP offer; pass an empty buffer for a late offer. `extra` headers go
   * on both INVITEs (Supported, Require …).
   */
  async invite(
    target: string,
    body: Buffer = sdp(40000),
    extra: readonly SipHeader[] = [],
  ): Promise<OutgoingCall> {
    const callId = randomBytes(8).toString('hex');
    const fromTag = newTag();
    const uri = `sip:${target}@${this.domain}`;
    let seq = this.cseq++;
    const headers = extra;
    const build = (more: SipHeader[], viaBranch: string) =>
      buildRequest(
        'INVITE',
        uri,
        [
          { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${this.port};branch=${viaBranch};rport` },
          { name: 'Max-Forwards', value: '70' },
          { name: 'From', value: `"${this.user}" <sip:${this.user}@${this.domain}>;tag=${fromTag}` },
          { name: 'To', value: `<${uri}>` },
          { name: 'Call-ID', value: callId },
          { name: 'CSeq', value: `${seq} INVITE` },
          { name: 'Contact', value: this.contact },
          ...(body.length > 0 ? [{ name: 'Content-Type', value: 'application/sdp' }] : []),
          ...headers,
          ...more,
        ],
        body,
      );
    const first = branch();
    this.send(build([], first));
    const challenge = await this.response(callId, 407);
    // §17.1.1.3: the ACK of a non-2xx final response is the transaction's own.
    this.send(
      buildRequest('ACK', uri, [
        { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${this.port};branch=${first};rport` },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `"${this.user}" <sip:${this.user}@${this.domain}>;tag=${fromTag}` },
        { name: 'To', value: header(challenge, 'To') ?? '' },
        { name: 'Call-ID', value: callId },
        { name: 'CSeq', value: `${seq} ACK` },
      ]),
    );
    const answer = answerChallenge({
      challenges: headerValues(challenge, 'Proxy-Authenticate'),
      method: 'INVITE',
      uri,
      username: this.user,
      password: this.password,
    });
    if (!answer) throw new Error('no usable proxy challenge');
    seq = this.cseq++;
    const inviteBranch = branch();
    this.send(build([{ name: 'Proxy-Authorization', value: answer.authorization }], inviteBranch));
    return new OutgoingCall(this, callId, fromTag, uri, seq, inviteBranch);
  }

  /**
   * A call from this phone to `callee` (its user in this domain), answered: the callee replies 200 to the INVITE it
   * receives (To tag `toTag`, SDP `answer`), the 200 must be this phone's final response, which it ACKs, and the
   * ACK must reach the callee. The call's handle and the INVITE as the callee received it.
   */
  async answeredCall(
    callee: SipPhone,
    offer: Buffer,
    answer: Buffer,
    toTag: string,
  ): Promise<{ call: OutgoingCall; invite: SipRequest }> {
    const call = await this.invite(callee.user, offer);
    const invite = await callee.request('INVITE');
    callee.reply(invite, 200, 'OK', toTag, {}, answer);
    const final = await call.final();
    if (final.status !== 200) throw new Error(`the call to ${callee.user} ended ${final.status}, not 200`);
    call.ack();
    await callee.request('ACK');
    return { call, invite };
  }

  /** Answers `request` with a response (To tag `toTag` unless the request has one). */
  reply(
    request: SipRequest,
    status: number,
    reason: string,
    toTag: string,
    extra: Record<string, string> = {},
    body?: Buffer,
  ): void {
    const headers = { ...extra, ...(body && body.length > 0 ? { 'Content-Type': 'application/sdp' } : {}) };
    this.socket.send(
      buildResponse(request, status, reason, { Contact: this.contact, ...headers }, body, toTag),
      this.gatewayPort,
      '127.0.0.1',
    );
  }

  /** A request inside the dialog an INVITE created, from the side that received it (this phone is UAS). */
  inDialogAsCallee(
    invite: SipRequest,
    toTag: string,
    method: string,
    seq: number,
    body?: Buffer,
    extra: readonly SipHeader[] = [],
  ): Buffer {
    const contact = headerValues(invite, 'Contact')[0] ?? '';
    const target = /<([^>]*)>/.exec(contact)?.[1] ?? contact;
    return buildRequest(
      method,
      target,
      [
        { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch()};rport` },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `${header(invite, 'To')};tag=${toTag}` },
        { name: 'To', value: header(invite, 'From') ?? '' },
        { name: 'Call-ID', value: invite.callId },
        { name: 'CSeq', value: `${seq} ${method}` },
        { name: 'Contact', value: this.contact },
        ...extra,
        ...(body && body.length > 0 ? [{ name: 'Content-Type', value: 'application/sdp' }] : []),
      ],
      body,
    );
  }

  close(): void {
    this.socket.close();
  }
}

/** The caller's side of a call placed by `SipPhone.invite`. */
export class OutgoingCall {
  toTag: string | undefined;
  remoteTarget: string | undefined;
  constructor(
    private readonly phone: SipPhone,
    readonly callId: string,
    readonly fromTag: string,
    readonly uri: string,
    private seq: number,
    readonly branch: string,
  ) {
    this.inviteSeq = seq;
  }

  /** The CSeq number of the INVITE (its ACK and CANCEL reuse it; PRACK's RAck names it). */
  readonly inviteSeq: number;

  /** Waits for a final response; remembers the To tag and Contact of a 2xx. */
  async final(ms = 5000): Promise<SipResponse> {
    // This INVITE's own CSeq: a retransmitted 407 of the first INVITE (its ACK raced T1) is not its answer.
    const r = await this.phone.response(this.callId, (s) => s >= 200, 'INVITE', ms, this.inviteSeq);
    if (r.status < 300) {
      this.toTag = r.toTag;
      const contact = headerValues(r, 'Contact')[0] ?? '';
      this.remoteTarget = /<([^>]*)>/.exec(contact)?.[1] ?? contact;
    }
    return r;
  }

  private dialogRequest(
    method: string,
    seq: number,
    body?: Buffer,
    viaBranch = branch(),
    extra: readonly SipHeader[] = [],
  ): Buffer {
    return buildRequest(
      method,
      this.remoteTarget ?? this.uri,
      [
        { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${this.phone.port};branch=${viaBranch};rport` },
        { name: 'Max-Forwards', value: '70' },
        {
          name: 'From',
          value: `"${this.phone.user}" <sip:${this.phone.user}@${this.phone.domain}>;tag=${this.fromTag}`,
        },
        { name: 'To', value: `<${this.uri}>${this.toTag ? `;tag=${this.toTag}` : ''}` },
        { name: 'Call-ID', value: this.callId },
        { name: 'CSeq', value: `${seq} ${method}` },
        { name: 'Contact', value: this.phone.contact },
        ...extra,
        ...(body && body.length > 0 ? [{ name: 'Content-Type', value: 'application/sdp' }] : []),
      ],
      body,
    );
  }

  /** The ACK of the 2xx; `viaBranch` reuses a branch (the INVITE's, as some UAs do) instead of a new one. */
  ack(body?: Buffer, viaBranch?: string): void {
    this.phone.send(this.dialogRequest('ACK', this.inviteSeq, body, viaBranch));
  }

  /** Enters the early dialog of a provisional response (its To tag and Contact), RFC 3261 §12.1.2. */
  early(response: SipResponse): void {
    this.toTag = response.toTag;
    const contact = headerValues(response, 'Contact')[0] ?? '';
    this.remoteTarget = /<([^>]*)>/.exec(contact)?.[1] ?? contact;
  }

  /**
   * RFC 3262 §7.2: a PRACK for a reliable provisional response (RAck = its RSeq, the INVITE's CSeq). `rack`
   * overrides the RAck value. Returns the PRACK's CSeq number.
   */
  prack(response: SipResponse, body?: Buffer, rack?: string): number {
    this.early(response);
    const seq = ++this.seq;
    const value = rack ?? `${header(response, 'RSeq') ?? ''} ${this.inviteSeq} INVITE`;
    this.phone.send(this.dialogRequest('PRACK', seq, body, branch(), [{ name: 'RAck', value }]));
    return seq;
  }

  /** §9.1: same Request-URI, Call-ID, From, To, CSeq number and top Via branch as the INVITE. */
  cancel(): void {
    this.phone.send(
      buildRequest('CANCEL', this.uri, [
        { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${this.phone.port};branch=${this.branch};rport` },
        { name: 'Max-Forwards', value: '70' },
        {
          name: 'From',
          value: `"${this.phone.user}" <sip:${this.phone.user}@${this.phone.domain}>;tag=${this.fromTag}`,
        },
        { name: 'To', value: `<${this.uri}>` },
        { name: 'Call-ID', value: this.callId },
        { name: 'CSeq', value: `${this.inviteSeq} CANCEL` },
      ]),
    );
  }

  /** Sends an in-dialog request (with `extra` headers) and returns its CSeq number. */
  send(method: string, body?: Buffer, extra: readonly SipHeader[] = []): number {
    const seq = ++this.seq;
    this.phone.send(this.dialogRequest(method, seq, body, branch(), extra));
    return seq;
  }

  /** Sends the ACK of an in-dialog INVITE with CSeq `seq`. */
  ackSeq(seq: number): void {
    this.phone.send(this.dialogRequest('ACK', seq));
  }
}

function describe(m: SipMessage): string {
  return m.kind === 'request' ? m.method : `${m.status} ${m.cseq.method}`;
}
