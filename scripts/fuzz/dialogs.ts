import { answerChallenge, header, headerValues, parseMessage, topViaOf } from '../../src/sip/index.js';
import type { Prng } from './prng.js';
import { sdpBody, type FuzzMessage, type SipTargetInfo } from './sip-generator.js';

/** A call the fuzzer placed that the gateway answered with a To tag (18x or 2xx): in-dialog requests go here. */
export interface FuzzDialog {
  callId: string;
  from: string;
  /** To with the gateway's tag. */
  to: string;
  /** To as the INVITE had it (for CANCEL). */
  inviteTo: string;
  cseq: number;
  /** The INVITE's branch (CANCEL and the ACK of a non-2xx reuse it). */
  branch: string;
  /** The gateway's Contact: where in-dialog requests go. */
  remoteTarget: string;
  status: number;
}

/**
 * Dialogs learnt from the gateway's answers to fuzzed INVITEs (UDP and WebSocket senders hand their replies
 * here). Bounded: the oldest go first.
 */
export class DialogBook {
  private readonly dialogs: FuzzDialog[] = [];
  recorded = 0;
  /** The last digest challenge to a REGISTER of the fuzz's own user, and how often its nonce was used. */
  challenge?: { values: string[]; uses: number };
  /** REGISTERs of the fuzz's own user the registrar accepted (200). */
  registered = 0;

  record(bytes: Buffer): void {
    let message;
    try {
      message = parseMessage(bytes, { datagram: true });
    } catch {
      return;
    }
    if (message.kind !== 'response') return;
    if (message.cseq.method === 'REGISTER' && message.status === 200) this.registered++;
    if (message.cseq.method === 'REGISTER' && message.status === 401) {
      const values = headerValues(message, 'WWW-Authenticate');
      if (values.length > 0) this.challenge = { values, uses: 0 };
      return;
    }
    if (message.cseq.method !== 'INVITE' || !message.toTag) return;
    if (message.status < 180 || message.status >= 300) return;
    const to = header(message, 'To');
    const from = header(message, 'From');
    const branch = topViaOf(message)?.branch;
    if (!to || !from || !branch) return;
    const contact = /<([^>]+)>/.exec(header(message, 'Contact') ?? '')?.[1];
    const existing = this.dialogs.find((d) => d.callId === message.callId && d.to === to);
    if (existing) {
      existing.status = Math.max(existing.status, message.status);
      if (contact) existing.remoteTarget = contact;
      return;
    }
    this.recorded++;
    this.dialogs.push({
      callId: message.callId,
      from,
      to,
      inviteTo: to.replace(/;\s*tag=[^;]*/i, ''),
      cseq: message.cseq.seq,
      branch,
      remoteTarget: contact ?? '',
      status: message.status,
    });
    if (this.dialogs.length > 500) this.dialogs.shift();
  }

  pick(rng: Prng): FuzzDialog | undefined {
    if (this.dialogs.length === 0) return undefined;
    // The newest more often: their transactions are still running.
    const i = this.dialogs.length - 1 - Math.min(this.dialogs.length - 1, rng.int(rng.chance(0.7) ? 5 : 500));
    return this.dialogs[i];
  }
}

const CRLF = '\r\n';

/**
 * A request inside a dialog the gateway set up: ACK, BYE, re-INVITE and UPDATE with odd SDP, INFO, PRACK,
 * CANCEL, REFER, OPTIONS — some with their CSeq, tags, Request-URI, Content-Length or body made odd.
 */
export function inDialogRequest(rng: Prng, target: SipTargetInfo, dialog: FuzzDialog): FuzzMessage {
  const early = dialog.status < 200;
  const method = rng.weighted<string>([
    [early ? 1 : 5, 'ACK'],
    [4, 'BYE'],
    [3, 'INVITE'],
    [2, 'UPDATE'],
    [1, 'INFO'],
    [1, 'PRACK'],
    [early ? 4 : 1, 'CANCEL'],
    [1, 'OPTIONS'],
    [1, 'REFER'],
    [1, 'NOTIFY'],
  ]);
  const odd = rng.chance(0.3);
  const kinds = [`dialog:${method}`, early ? 'early' : 'confirmed'];
  const reuseBranch = method === 'CANCEL' || (method === 'ACK' && rng.chance(0.3));
  const ruri =
    odd && rng.chance(0.3) ? rng.pick(['sip:x@127.0.0.1:0', '*', 'sip:[::1]', '']) : dialog.remoteTarget;
  const seq =
    method === 'ACK' || method === 'CANCEL'
      ? dialog.cseq
      : odd && rng.chance(0.3)
        ? rng.pick([0, dialog.cseq, dialog.cseq - 1, 2 ** 31, 2 ** 32 + 1])
        : dialog.cseq + rng.range(1, 5);
  const headers = [
    `Via: SIP/2.0/${target.via} 127.0.0.1:${rng.range(1024, 65535)};branch=${reuseBranch ? dialog.branch : `z9hG4bK${rng.token(12)}`};rport`,
    'Max-Forwards: 70',
    `From: ${dialog.from}`,
    `To: ${method === 'CANCEL' || (odd && rng.chance(0.2)) ? dialog.inviteTo : dialog.to}`,
    `Call-ID: ${dialog.callId}`,
    `CSeq: ${seq} ${odd && rng.chance(0.2) ? rng.pick(['INVITE', 'BYE', 'ACK']) : method}`,
  ];
  if (method === 'INVITE' || method === 'UPDATE' || (odd && rng.chance(0.3)))
    headers.push(`Contact: <sip:fuzz@127.0.0.1:${rng.range(1024, 65535)}>`);
  if (method === 'PRACK')
    headers.push(`RAck: ${odd ? rng.pick(['0 0 INVITE', 'x', '1']) : `1 ${dialog.cseq} INVITE`}`);
  if (method === 'REFER') headers.push(`Refer-To: <sip:${target.did}@${target.host}>`);
  if (method === 'NOTIFY') headers.push('Event: refer', 'Subscription-State: active');
  if (odd && rng.chance(0.3)) headers.push(rng.pick(['Require: 100rel', 'Require: foo', 'Supported: timer']));
  let body = '';
  if (['INVITE', 'UPDATE', 'ACK', 'PRACK'].includes(method) && rng.chance(method === 'INVITE' ? 0.9 : 0.4)) {
    const sdp = sdpBody(rng, target.via === 'UDP' ? 50_000 : 400_000, rng.chance(0.5));
    body = sdp.body;
    kinds.push(sdp.kind);
    headers.push('Content-Type: application/sdp');
  } else if (method === 'INFO' && rng.chance(0.5)) {
    body = 'Signal=1\r\nDuration=100\r\n';
    headers.push('Content-Type: application/dtmf-relay');
  }
  const length =
    odd && rng.chance(0.3)
      ? rng.pick(['-1', '0', String(body.length + 10), '99999999'])
      : String(body.length);
  if (length !== String(body.length)) kinds.push('cl-wrong');
  headers.push(`Content-Length: ${length}`);
  const text = `${method} ${ruri} SIP/2.0${CRLF}${headers.join(CRLF)}${CRLF}${CRLF}${body}`;
  return { bytes: Buffer.from(text, 'latin1'), kind: kinds.join(',') };
}

/** The fuzz's own registering user (not the callee: a fuzzed `Contact: *` must not unregister the callee). */
export const ROAMER = { user: 'roamer', password: 'roamer-pass' };

const ODD_CONTACT_HOSTS = [
  '127.0.0.1',
  '[::1]',
  '::1',
  '[fe80::1%eth0]',
  '0.0.0.0',
  '255.255.255.255',
  '224.0.0.1',
  'no-such-host.invalid',
  '',
  '[]',
  '2001:db8::1]',
];
const ODD_PORTS = ['', ':0', ':1', ':65535', ':65536', ':99999', ':-1', ':abc', ':'];

/**
 * A REGISTER of the fuzz's own user with valid credentials for the last challenge (or without any, to get
 * one): what reaches the registrar's binding store, and through it the keepalive and the forks of later
 * INVITEs, is the fuzzed Contact set — odd hosts and ports, transports, expires, instance ids, many contacts.
 */
export function registerRequest(rng: Prng, target: SipTargetInfo, book: DialogBook): FuzzMessage {
  const uri = `sip:${target.domain}`;
  const contact = () =>
    rng.weighted<string>([
      [4, `<sip:${ROAMER.user}@${rng.pick(ODD_CONTACT_HOSTS)}${rng.pick(ODD_PORTS)}>`],
      [
        2,
        `<sip:${ROAMER.user}@127.0.0.1:${rng.range(1, 65535)};transport=${rng.pick(['udp', 'tcp', 'tls', 'ws', 'wss', 'sctp', 'x'])}>`,
      ],
      [
        1,
        `<sip:${ROAMER.user}@127.0.0.1:${rng.range(1, 65535)}>;expires=${rng.pick(['0', '1', '-1', '4294967296', 'x'])}`,
      ],
      [
        1,
        `<sip:${ROAMER.user}@127.0.0.1:${rng.range(1, 65535)};ob>;reg-id=${rng.pick(['1', '0', '-1', 'x'])};+sip.instance="<urn:uuid:${rng.token(8)}>"`,
      ],
      [1, `<sips:${ROAMER.user}@127.0.0.1:${rng.range(1, 65535)}>`],
      [1, `<tel:+1555${rng.range(0, 9999)}>`],
      [1, rng.pick(['*', '<>', '<sip:>', `<sip:${ROAMER.user}@127.0.0.1:5060;maddr=224.0.0.1>`])],
    ]);
  const contacts = Array.from({ length: rng.chance(0.9) ? 1 : rng.range(2, 50) }, contact);
  const headers = [
    `Via: SIP/2.0/${target.via} 127.0.0.1:${rng.range(1024, 65535)};branch=z9hG4bK${rng.token(12)};rport`,
    'Max-Forwards: 70',
    `From: <sip:${ROAMER.user}@${target.domain}>;tag=${rng.token(8)}`,
    `To: <sip:${ROAMER.user}@${target.domain}>`,
    `Call-ID: ${rng.token(12)}@roamer`,
    `CSeq: ${rng.range(1, 1e6)} REGISTER`,
    `Contact: ${contacts.join(', ')}`,
  ];
  if (rng.chance(0.7))
    headers.push(`Expires: ${rng.pick(['60', '3600', '0', '1', '59', '86401', '-1', 'x'])}`);
  let kind = 'register:unauthenticated';
  const challenge = book.challenge;
  if (challenge) {
    const answer = answerChallenge({
      challenges: challenge.values,
      method: 'REGISTER',
      uri,
      username: ROAMER.user,
      password: ROAMER.password,
      previousUses: challenge.uses++,
    });
    if (answer) {
      headers.push(`Authorization: ${answer.authorization}`);
      kind = 'register:authenticated';
    }
  }
  headers.push('Content-Length: 0');
  const text = `REGISTER ${uri} SIP/2.0${CRLF}${headers.join(CRLF)}${CRLF}${CRLF}`;
  return { bytes: Buffer.from(text, 'latin1'), kind: `${kind},contacts=${contacts.length}` };
}
