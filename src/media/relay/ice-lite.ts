import { randomBytes } from 'node:crypto';
import {
  bindingError,
  bindingSuccess,
  parseStun,
  readBindingRequest,
  shortTermKey,
  splitIceUsername,
  verifyMessageIntegrity,
} from '../stun/index.js';

/** The relay's ICE credentials towards one party on one stream (RFC 8839 §5.4), kept across re-offers. */
export interface IceCredentials {
  readonly ufrag: string;
  readonly pwd: string;
  /** The short-term key of MESSAGE-INTEGRITY: the password (RFC 8489 §9.1.1). */
  readonly key: Buffer;
}

/**
 * Fresh credentials: ice-chars (ALPHA / DIGIT / "+" / "/", which base64 uses), a ufrag of 8 characters (at
 * least 4, 24 bits of randomness: RFC 8445 §5.3) and a password of 24 (at least 22, 128 bits).
 */
export function newIceCredentials(): IceCredentials {
  const ufrag = randomBytes(6).toString('base64');
  const pwd = randomBytes(18).toString('base64');
  return { ufrag, pwd, key: shortTermKey(pwd) };
}

/** Why a STUN packet was not answered with success (`voxgate_media_stun_dropped_total{reason}`). */
export type StunDropReason = 'auth' | 'malformed' | 'unexpected';

export type BindingOutcome =
  /** A valid connectivity check: answer it; `nominated` when it carried USE-CANDIDATE. */
  | { kind: 'valid'; response: Buffer; nominated: boolean }
  /** Refused: an error response to send when one is due (400, 401, 420), else dropped. */
  | { kind: 'refused'; reason: StunDropReason; response?: Buffer }
  /** A Binding indication (an ICE keepalive, RFC 8445 §11): nothing to do. */
  | { kind: 'keepalive' };

/**
 * The ICE-lite answer to a STUN packet that arrived on a party's relay port (RFC 8445 §7.3 as a lite agent,
 * always controlled; RFC 8489 §9.1.3 short-term credentials): the USERNAME must be "<relay ufrag>:<party's
 * ufrag>" (the party's part is not checked before its ufrag is known: checks may arrive before its answer),
 * MESSAGE-INTEGRITY must verify with the relay's password. Missing credentials are answered 400, wrong ones
 * 401 (without MESSAGE-INTEGRITY), unknown comprehension-required attributes 420; a packet that is not a
 * well-formed request (bad FINGERPRINT included) is dropped, as are responses (the relay sends no request).
 */
export function answerBinding(
  packet: Buffer,
  source: { address: string; port: number },
  local: IceCredentials,
  remoteUfrag: string | undefined,
): BindingOutcome {
  const parsed = parseStun(packet);
  if (!parsed.ok) return { kind: 'refused', reason: 'malformed' };
  const message = parsed.value;
  if (message.class === 'indication') return { kind: 'keepalive' };
  if (message.class !== 'request') return { kind: 'refused', reason: 'unexpected' };
  const tid = message.transactionId;
  const read = readBindingRequest(message);
  if (!read.ok) {
    // A bad FINGERPRINT means the packet may not be STUN at all (RFC 8489 §7.3): dropped without an answer.
    if (read.error.code === 'bad-fingerprint') return { kind: 'refused', reason: 'malformed' };
    return { kind: 'refused', reason: 'malformed', response: bindingError(tid, 400) };
  }
  const request = read.value;
  if (request.username === undefined || !request.hasIntegrity) {
    return { kind: 'refused', reason: 'auth', response: bindingError(tid, 400) };
  }
  const names = splitIceUsername(request.username);
  const mine = names?.local === local.ufrag && (remoteUfrag === undefined || names.remote === remoteUfrag);
  if (!mine || !verifyMessageIntegrity(message, local.key).ok) {
    return { kind: 'refused', reason: 'auth', response: bindingError(tid, 401) };
  }
  if (request.unknown.length) {
    return {
      kind: 'refused',
      reason: 'malformed',
      response: bindingError(tid, 420, { key: local.key, unknown: request.unknown }),
    };
  }
  const response = bindingSuccess(tid, source, local.key);
  if (!response) return { kind: 'refused', reason: 'malformed' };
  return { kind: 'valid', response, nominated: request.useCandidate };
}

/** RFC 8445 §5.1.2.1: host candidates, type preference 126, one local preference (65535), per component. */
export const hostPriority = (component: number) => 126 * 2 ** 24 + 65535 * 2 ** 8 + (256 - component);
