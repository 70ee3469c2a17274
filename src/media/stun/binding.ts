import { encodeErrorCode, encodeUnknownAttributes } from './error-code.js';
import { addFingerprint, verifyFingerprint } from './fingerprint.js';
import {
  decodePriority,
  decodeTieBreaker,
  decodeUseCandidate,
  encodePriority,
  encodeTieBreaker,
} from './ice-attributes.js';
import { addMessageIntegrity } from './message-integrity.js';
import {
  ATTR,
  BINDING,
  fail,
  ok,
  serializeStun,
  unknownRequired,
  type StunMessage,
  type StunResult,
} from './stun-message.js';
import { decodeUsername, encodeUsername } from './username.js';
import { encodeXorMappedAddress } from './xor-mapped-address.js';

/** What an ICE connectivity check (a Binding request, RFC 8445 §7.1.1) carries. */
export interface BindingRequest {
  transactionId: Buffer;
  username?: string;
  priority?: number;
  /** The pair is nominated (RFC 8445 §8.1.1). */
  useCandidate: boolean;
  /** The sender's tie-breaker when it claims the controlling role. */
  controlling?: bigint;
  /** The sender's tie-breaker when it claims the controlled role. */
  controlled?: bigint;
  /** Whether MESSAGE-INTEGRITY is present (checked separately, with the key of the USERNAME). */
  hasIntegrity: boolean;
  /** Comprehension-required attributes not understood (RFC 8489 §6.3.1: answered with 420). */
  unknown: number[];
}

/**
 * The ICE attributes of a Binding request. A FINGERPRINT, when present, must be right (RFC 8489 §14.7);
 * attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored (§14.5).
 */
export function readBindingRequest(message: StunMessage): StunResult<BindingRequest> {
  if (message.method !== BINDING || message.class !== 'request') {
    return fail('not-stun', `not a Binding request (method ${message.method}, ${message.class})`);
  }
  if (message.attributes.some((a) => a.type === ATTR.FINGERPRINT)) {
    const fp = verifyFingerprint(message);
    if (!fp.ok) return fp;
  }
  const mi = message.attributes.findIndex((a) => a.type === ATTR.MESSAGE_INTEGRITY);
  const covered = mi === -1 ? message.attributes : message.attributes.slice(0, mi + 1);
  const request: BindingRequest = {
    transactionId: message.transactionId,
    useCandidate: false,
    hasIntegrity: mi !== -1,
    unknown: unknownRequired({ ...message, attributes: covered }),
  };
  for (const a of covered) {
    if (a.type === ATTR.USERNAME) {
      const u = decodeUsername(a.value);
      if (!u.ok) return u;
      request.username = u.value;
    } else if (a.type === ATTR.PRIORITY) {
      const p = decodePriority(a.value);
      if (!p.ok) return p;
      request.priority = p.value;
    } else if (a.type === ATTR.USE_CANDIDATE) {
      const c = decodeUseCandidate(a.value);
      if (!c.ok) return c;
      request.useCandidate = true;
    } else if (a.type === ATTR.ICE_CONTROLLING || a.type === ATTR.ICE_CONTROLLED) {
      const t = decodeTieBreaker(a.value);
      if (!t.ok) return t;
      if (a.type === ATTR.ICE_CONTROLLING) request.controlling = t.value;
      else request.controlled = t.value;
    }
  }
  return ok(request);
}

/**
 * A Binding success response (RFC 8445 §7.3.1.4, RFC 8489 §9.1.3): XOR-MAPPED-ADDRESS of the request's
 * source, MESSAGE-INTEGRITY with the same key as the request's, FINGERPRINT. Undefined for an address that is
 * not IPv4 or IPv6.
 */
export function bindingSuccess(
  transactionId: Buffer,
  source: { address: string; port: number },
  key: Buffer,
): Buffer | undefined {
  const mapped = encodeXorMappedAddress(source.address, source.port, transactionId);
  if (!mapped) return undefined;
  const head = serializeStun({
    method: BINDING,
    class: 'success',
    transactionId,
    attributes: [{ type: ATTR.XOR_MAPPED_ADDRESS, value: mapped }],
  });
  return addFingerprint(addMessageIntegrity(head, key));
}

/**
 * A Binding error response: ERROR-CODE (and UNKNOWN-ATTRIBUTES for 420), MESSAGE-INTEGRITY only when a key is
 * given (a 400 or 401 answers credentials that did not check: it is not signed), FINGERPRINT.
 */
export function bindingError(
  transactionId: Buffer,
  code: 400 | 401 | 420 | 487,
  options: { key?: Buffer; unknown?: readonly number[] } = {},
): Buffer {
  const attributes: { type: number; value: Buffer }[] = [
    { type: ATTR.ERROR_CODE, value: encodeErrorCode(code)! },
  ];
  if (options.unknown?.length) {
    attributes.push({ type: ATTR.UNKNOWN_ATTRIBUTES, value: encodeUnknownAttributes(options.unknown) });
  }
  const head = serializeStun({ method: BINDING, class: 'error', transactionId, attributes });
  return addFingerprint(options.key ? addMessageIntegrity(head, options.key) : head);
}

/** A connectivity check as a full ICE agent sends it (RFC 8445 §7.1.1): for tests and clients. */
export function bindingRequest(request: {
  transactionId: Buffer;
  username: string;
  key: Buffer;
  priority: number;
  useCandidate?: boolean;
  controlling?: bigint;
  controlled?: bigint;
}): Buffer | undefined {
  const username = encodeUsername(request.username);
  if (!username) return undefined;
  const attributes: { type: number; value: Buffer }[] = [
    { type: ATTR.USERNAME, value: username },
    { type: ATTR.PRIORITY, value: encodePriority(request.priority) },
  ];
  if (request.useCandidate) attributes.push({ type: ATTR.USE_CANDIDATE, value: Buffer.alloc(0) });
  if (request.controlling !== undefined) {
    attributes.push({ type: ATTR.ICE_CONTROLLING, value: encodeTieBreaker(request.controlling) });
  }
  if (request.controlled !== undefined) {
    attributes.push({ type: ATTR.ICE_CONTROLLED, value: encodeTieBreaker(request.controlled) });
  }
  const head = serializeStun({
    method: BINDING,
    class: 'request',
    transactionId: request.transactionId,
    attributes,
  });
  return addFingerprint(addMessageIntegrity(head, request.key));
}
