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
  parseNameAddr,
  parseSipUri,
  splitList,
  type SipHeader,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../../src/sip/index.js';
import { FarEndMedia } from './far-end-media.js';
import type { Account, SipServer } from './types.js';

/**
 * The other party of every interop call: a scripted user agent on UDP that registers on the server under
 * test like any phone, answers or places calls, plays a tone and records what it hears (far-end-media.ts).
 * It is the same for voxgate and for the reference, so a check that fails only on one of them is that
 * server's. It keeps a proper dialog (route set from Record-Route, §12.1; remote target from Contact) because
 * the reference is a record-routing proxy while voxgate is a B2BUA.
 */
export class FarEnd {
  readonly received: SipMessage[] = [];
  private waiters: { match: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void }[] = [];
  private cseq = 1;
  private readonly calls = new Map<string, FarEndCall>();
  private incoming: ((call: FarEndCall) => void)[] = [];
  private pendingIncoming: FarEndCall[] = [];

  private constructor(
    readonly server: SipServer,
    readonly account: Account,
    private readonly socket: Socket,
    readonly port: number,
    private readonly toneHz: number,
  ) {
    socket.on('message', (bytes, from) => this.onMessage(bytes, from));
  }

  static async open(server: SipServer, account: Account, toneHz: number): Promise<FarEnd> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new FarEnd(server, account, socket, socket.address().port, toneHz);
  }

  get aor(): string {
    return `sip:${this.account.username}@${this.server.domain}`;
  }

  get contact(): string {
    return `<sip:${this.account.username}@127.0.0.1:${this.port}>`;
  }

  /** Sends to the server (or to `to`, a host:port taken from a URI). */
  send(bytes: Buffer, to?: { host: string; port: number }): void {
    this.socket.send(bytes, to?.port ?? this.server.ports.udp, to?.host ?? this.server.address);
  }

  via(): SipHeader {
    return { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch()};rport` };
  }

  nextCseq(): number {
    return this.cseq++;
  }

  /** REGISTER over UDP, answering the digest challenge; resolves on 200, rejects on anything else. */
  async register(expires = 300): Promise<void> {
    const callId = randomBytes(8).toString('hex');
    const uri = `sip:${this.server.domain}`;
    const fromTag = newTag();
    const build = (extra: SipHeader[]) =>
      buildRequest('REGISTER', uri, [
        this.via(),
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `<${this.aor}>;tag=${fromTag}` },
        { name: 'To', value: `<${this.aor}>` },
        { name: 'Call-ID', value: callId },
        { name: 'CSeq', value: `${this.nextCseq()} REGISTER` },
        { name: 'Contact', value: this.contact },
        { name: 'Expires', value: String(expires) },
        ...extra,
      ]);
    this.send(build([]));
    let res = await this.response(callId, 'REGISTER');
    if (res.status === 401) {
      const answer = answerChallenge({
        challenges: headerValues(res, 'WWW-Authenticate'),
        method: 'REGISTER',
        uri,
        username: this.account.username,
        password: this.account.password,
      });
      if (!answer)
        throw new Error(
          `far end: no usable challenge in ${headerValues(res, 'WWW-Authenticate').join(' | ')}`,
        );
      this.send(build([{ name: 'Authorization', value: answer.authorization }]));
      res = await this.response(callId, 'REGISTER');
    }
    if (res.status !== 200) throw new Error(`far end: REGISTER answered ${res.status} ${res.reason}`);
  }

  /** Unregisters (Expires: 0); failures are ignored (the server may be stopping). */
  async unregister(): Promise<void> {
    await this.register(0).catch(() => undefined);
  }

  /** Calls `user` of the domain; answers a 407 once; resolves with the established call, rejects on failure. */
  async call(user: string, ms = 20_000): Promise<FarEndCall> {
    const callId = randomBytes(8).toString('hex');
    const uri = `sip:${user}@${this.server.domain}`;
    const media = await FarEndMedia.open(this.toneHz);
    const offer = media.offer();
    const fromTag = newTag();
    let seq = this.nextCseq();
    let viaBranch = branch();
    const build = (extra: SipHeader[]) =>
      buildRequest(
        'INVITE',
        uri,
        [
          { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${this.port};branch=${viaBranch};rport` },
          { name: 'Max-Forwards', value: '70' },
          { name: 'From', value: `<${this.aor}>;tag=${fromTag}` },
          { name: 'To', value: `<${uri}>` },
          { name: 'Call-ID', value: callId },
          { name: 'CSeq', value: `${seq} INVITE` },
          { name: 'Contact', value: this.contact },
          { name: 'Content-Type', value: 'application/sdp' },
          ...extra,
        ],
        offer,
      );
    this.send(build([]));
    let res = await this.response(callId, 'INVITE', ms);
    if (res.status === 407 || res.status === 401) {
      this.ackNon2xx(res, uri, viaBranch, seq);
      const proxy = res.status === 407;
      const answer = answerChallenge({
        challenges: headerValues(res, proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate'),
        method: 'INVITE',
        uri,
        username: this.account.username,
        password: this.account.password,
      });
      if (!answer) throw new Error('far end: no usable INVITE challenge');
      seq = this.nextCseq();
      viaBranch = branch();
      this.send(
        build([{ name: proxy ? 'Proxy-Authorization' : 'Authorization', value: answer.authorization }]),
      );
      res = await this.response(callId, 'INVITE', ms);
    }
    if (res.status >= 300) {
      this.ackNon2xx(res, uri, viaBranch, seq);
      media.close();
      throw new Error(`far end: call to ${user} answered ${res.status} ${res.reason}`);
    }
    // §12.1.2: the UAC's route set is the 2xx's Record-Route in reverse order; the remote target its Contact.
    const routes = headerValues(res, 'Record-Route').flatMap(splitList).reverse();
    const call = new FarEndCall(this, media, {
      callId,
      localUri: this.aor,
      localTag: fromTag,
      remoteUri: uri,
      remoteTag: res.toTag ?? '',
      remoteTarget: contactUri(res),
      routes,
    });
    this.calls.set(callId, call);
    call.ack(seq);
    call.applyAnswer(res.body);
    return call;
  }

  /** The next incoming call, answered (180, then 200 with an answer); rejects after `ms`. */
  nextCall(ms = 20_000): Promise<FarEndCall> {
    const ready = this.pendingIncoming.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.incoming = this.incoming.filter((r) => r !== take);
        reject(new Error(`far end: no incoming call within ${ms} ms`));
      }, ms);
      const take = (call: FarEndCall) => {
        clearTimeout(timer);
        resolve(call);
      };
      this.incoming.push(take);
    });
  }

  /** Resolves with the first response to the transaction of `callId`/`method` that is final. */
  response(callId: string, method: string, ms = 10_000): Promise<SipResponse> {
    return this.waitFor(
      (m) => m.kind === 'response' && m.callId === callId && m.cseq.method === method && m.status >= 200,
      ms,
      `final response to ${method}`,
    ) as Promise<SipResponse>;
  }

  waitFor(match: (m: SipMessage) => boolean, ms: number, what: string): Promise<SipMessage> {
    const seen = this.received.find(match);
    if (seen) {
      this.received.splice(this.received.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`far end: no ${what} within ${ms} ms`));
      }, ms);
      const done = (m: SipMessage) => {
        clearTimeout(timer);
        this.received.splice(this.received.indexOf(m), 1);
        resolve(m);
      };
      this.waiters.push({ match, resolve: done });
    });
  }

  /** Answers `request`, to where it came from (§18.2.2 with rport: the source address). */
  reply(
    request: SipRequest,
    from: RemoteInfo,
    status: number,
    reason: string,
    toTag?: string,
    body?: Buffer,
  ): void {
    const extra: Record<string, string | readonly string[]> = { Contact: this.contact };
    // §12.1.1: a UAS copies the request's Record-Route into its dialog-creating responses; without it a
    // record-routing proxy (the reference) drops out of the dialog.
    const recordRoute = headerValues(request, 'Record-Route');
    if (recordRoute.length > 0 && status > 100 && status < 300) extra['Record-Route'] = recordRoute;
    if (body) extra['Content-Type'] = 'application/sdp';
    this.send(buildResponse(request, status, reason, extra, body, toTag), {
      host: from.address,
      port: from.port,
    });
  }

  close(): void {
    for (const call of this.calls.values()) call.dispose();
    this.socket.close();
  }

  private ackNon2xx(res: SipResponse, uri: string, viaBranch: string, seq: number): void {
    // §17.1.1.3: the ACK of a non-2xx final response belongs to the INVITE's transaction (same branch).
    this.send(
      buildRequest('ACK', uri, [
        { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${this.port};branch=${viaBranch};rport` },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: header(res, 'From') ?? '' },
        { name: 'To', value: header(res, 'To') ?? '' },
        { name: 'Call-ID', value: res.callId },
        { name: 'CSeq', value: `${seq} ACK` },
      ]),
    );
  }

  private onMessage(bytes: Buffer, from: RemoteInfo): void {
    let message: SipMessage;
    try {
      message = parseMessage(bytes, { datagram: true });
    } catch {
      return;
    }
    if (message.kind === 'request') {
      void this.onRequest(message, from);
      return;
    }
    const call = this.calls.get(message.callId);
    // A retransmitted 2xx to an INVITE this side sent: ACK it again (§13.2.2.4).
    if (
      call &&
      message.cseq.method === 'INVITE' &&
      message.status >= 200 &&
      message.status < 300 &&
      call.acked(message.cseq.seq)
    ) {
      call.ack(message.cseq.seq);
      return;
    }
    this.received.push(message);
    const i = this.waiters.findIndex((w) => w.match(message));
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(message);
  }

  private async onRequest(request: SipRequest, from: RemoteInfo): Promise<void> {
    const existing = this.calls.get(request.callId);
    if (request.method === 'INVITE' && request.toTag === undefined) {
      if (existing) return; // a retransmission: the 200 is retransmitted by the call's own timer
      const media = await FarEndMedia.open(this.toneHz);
      const localTag = newTag();
      // §12.1.1: the UAS's route set is the request's Record-Route in order; the remote target its Contact.
      const call = new FarEndCall(this, media, {
        callId: request.callId,
        localUri: uriOf('To', header(request, 'To') ?? ''),
        localTag,
        remoteUri: uriOf('From', header(request, 'From') ?? ''),
        remoteTag: request.fromTag ?? '',
        remoteTarget: contactUri(request),
        routes: headerValues(request, 'Record-Route').flatMap(splitList),
      });
      this.calls.set(request.callId, call);
      call.answerInvite(request, from);
      const take = this.incoming.shift();
      if (take) take(call);
      else this.pendingIncoming.push(call);
      return;
    }
    if (!existing) {
      if (request.method === 'ACK') return;
      if (request.method === 'OPTIONS') return this.reply(request, from, 200, 'OK', newTag());
      return this.reply(request, from, 481, 'Call/Transaction Does Not Exist', newTag());
    }
    existing.onRequest(request, from);
  }
}

/** The dialog state of one far-end call (RFC 3261 §12). */
export interface DialogState {
  callId: string;
  localUri: string;
  localTag: string;
  remoteUri: string;
  remoteTag: string;
  remoteTarget: string;
  routes: string[];
}

/** One call of the far end: its dialog, its media, and what the other side did in it. */
export class FarEndCall {
  /** The SDP direction attribute of each offer received (the first INVITE's, then each re-INVITE's). */
  readonly offeredDirections: string[] = [];
  /** The SDP of each offer received, in order. */
  readonly offers: Buffer[] = [];
  /** In-dialog requests received, by method, in order. */
  readonly requests: string[] = [];
  ended = false;
  endedBy: 'far end' | 'other side' | undefined;
  private endWaiters: (() => void)[] = [];
  private retransmit: NodeJS.Timeout | undefined;
  private readonly ackedSeqs = new Set<number>();

  constructor(
    private readonly ua: FarEnd,
    readonly media: FarEndMedia,
    private readonly dialog: DialogState,
  ) {}

  get callId(): string {
    return this.dialog.callId;
  }

  /** Stops the 2xx retransmission and the media (the far end is closing; its socket goes next). */
  dispose(): void {
    clearTimeout(this.retransmit);
    this.retransmit = undefined;
    this.media.close();
  }

  acked(seq: number): boolean {
    return this.ackedSeqs.has(seq);
  }

  /** 180 then 200 with the media answer; the 200 is retransmitted until the ACK (§13.3.1.4, T1 doubling). */
  answerInvite(request: SipRequest, from: RemoteInfo): void {
    this.offers.push(request.body);
    this.offeredDirections.push(direction(request.body));
    this.media.applyRemote(request.body);
    this.ua.reply(request, from, 180, 'Ringing', this.dialog.localTag);
    const answer = this.media.answer(request.body);
    const send = () => this.ua.reply(request, from, 200, 'OK', this.dialog.localTag, answer);
    // §13.3.1.4: retransmitted at T1 doubling up to T2, given up after 64·T1 without an ACK.
    const giveUp = Date.now() + 32_000;
    let interval = 500;
    const again = () => {
      this.retransmit = setTimeout(() => {
        send();
        interval = Math.min(interval * 2, 4000);
        if (Date.now() < giveUp) again();
      }, interval);
    };
    this.retransmit = setTimeout(() => {
      send();
      again();
    }, 200);
  }

  /** Applies the answer in a 2xx this side's offer got. */
  applyAnswer(body: Buffer): void {
    this.media.applyRemote(body);
    this.media.start();
  }

  onRequest(request: SipRequest, from: RemoteInfo): void {
    this.requests.push(request.method);
    switch (request.method) {
      case 'ACK':
        clearTimeout(this.retransmit);
        this.media.start();
        return;
      case 'INVITE': {
        // A re-INVITE (hold, resume, or a refresh): answer by the offer's direction (RFC 3264 §6.1).
        this.offers.push(request.body);
        this.offeredDirections.push(direction(request.body));
        this.media.applyRemote(request.body);
        this.ua.reply(request, from, 200, 'OK', undefined, this.media.answer(request.body));
        return;
      }
      case 'BYE':
        this.ua.reply(request, from, 200, 'OK');
        this.finish('other side');
        return;
      case 'UPDATE':
        if (request.body.length > 0) {
          this.offeredDirections.push(direction(request.body));
          this.media.applyRemote(request.body);
          this.ua.reply(request, from, 200, 'OK', undefined, this.media.answer(request.body));
        } else this.ua.reply(request, from, 200, 'OK');
        return;
      default:
        // INFO (DTMF as SIP INFO is recorded by its method), OPTIONS, NOTIFY …
        this.ua.reply(request, from, 200, 'OK');
    }
  }

  /** Hangs up from the far end: BYE along the route set, resolves on its final response. */
  async bye(): Promise<void> {
    const seq = this.ua.nextCseq();
    this.sendInDialog('BYE', seq);
    this.finish('far end');
    const res = await this.ua.response(this.dialog.callId, 'BYE');
    if (res.status >= 300) throw new Error(`far end: BYE answered ${res.status} ${res.reason}`);
  }

  waitEnded(ms = 15_000): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`far end: the call did not end within ${ms} ms`)), ms);
      this.endWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves once an offer with `dir` has been received (a hold or resume seen at the far end). */
  async waitDirection(dir: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.offeredDirections.slice(1).includes(dir)) {
      if (Date.now() > deadline) {
        throw new Error(
          `far end: no re-INVITE offering ${dir}; offers seen: ${this.offeredDirections.join(', ')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  ack(seq: number): void {
    this.ackedSeqs.add(seq);
    this.sendInDialog('ACK', seq);
  }

  private sendInDialog(method: string, seq: number): void {
    const d = this.dialog;
    // §12.2.1.1: with a loose-routing first route, the Request-URI is the remote target and the route set goes
    // in Route; the request is sent to the first route.
    const next = d.routes[0] ? uriOf('Route', d.routes[0]) : d.remoteTarget;
    const target = parseSipUri(next);
    this.ua.send(
      buildRequest(method, d.remoteTarget, [
        this.ua.via(),
        { name: 'Max-Forwards', value: '70' },
        ...d.routes.map((r) => ({ name: 'Route', value: r })),
        { name: 'From', value: `<${d.localUri}>;tag=${d.localTag}` },
        { name: 'To', value: `<${d.remoteUri}>${d.remoteTag ? `;tag=${d.remoteTag}` : ''}` },
        { name: 'Call-ID', value: d.callId },
        { name: 'CSeq', value: `${seq} ${method}` },
        { name: 'Contact', value: this.ua.contact },
      ]),
      { host: target.host.replace(/^\[|\]$/g, ''), port: target.port ?? 5060 },
    );
  }

  private finish(by: 'far end' | 'other side'): void {
    if (this.ended) return;
    clearTimeout(this.retransmit);
    this.ended = true;
    this.endedBy = by;
    this.media.stop();
    for (const w of this.endWaiters.splice(0)) w();
  }
}

const branch = () => `z9hG4bK${randomBytes(8).toString('hex')}`;

/** The URI of a name-addr header value (Contact, Record-Route, From, To), as written between <>; '' for none. */
function uriOf(header: string, value: string): string {
  return value === '' ? '' : parseNameAddr(header, value).uriText;
}

function contactUri(message: SipMessage): string {
  return uriOf('Contact', headerValues(message, 'Contact')[0] ?? '');
}

/** The session's direction attribute (sendrecv when none, RFC 4566 §6). */
export function direction(body: Buffer): string {
  const text = body.toString('latin1');
  const found = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(text);
  if (found) return found[1]!;
  return /^c=IN IP4 0\.0\.0\.0/m.test(text) ? 'inactive' : 'sendrecv';
}
