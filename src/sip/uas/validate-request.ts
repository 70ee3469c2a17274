import { SipParseError } from '../errors.js';
import { mediaRangeMatches } from '../headers/content-type.js';
import {
  acceptOf,
  contactsOf,
  contentTypeOf,
  maxForwardsOf,
  optionTagsOf,
  requestUriOf,
} from '../message/header-access.js';
import { headerValues, type SipRequest } from '../message/sip-message.js';
import { checkTargets } from '../dialog/dialog.js';
import type { ExtraHeaders } from '../message/build-response.js';

const MANDATORY = ['Via', 'To', 'From', 'CSeq', 'Call-ID'] as const;
/** Methods whose request creates a dialog (§12.1; RFC 6665 SUBSCRIBE, RFC 3515 REFER). */
const DIALOG_CREATING: ReadonlySet<string> = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);
const SINGLETONS = ['Call-ID', 'CSeq', 'From', 'To', 'Max-Forwards', 'Content-Type', 'Expires'] as const;

/**
 * One bit per header the structural check counts: whether it must be present (MANDATORY) and whether it may
 * appear once only (SINGLETONS). One pass over a request's headers answers both, with nothing allocated (there
 * had been an array per singleton name per request).
 */
const COUNTED = new Map<string, { bit: number; singleton: boolean }>();
for (const name of [...MANDATORY, ...SINGLETONS]) {
  if (COUNTED.has(name)) continue;
  COUNTED.set(name, { bit: 1 << COUNTED.size, singleton: (SINGLETONS as readonly string[]).includes(name) });
}
const ALL_MANDATORY = MANDATORY.reduce((bits, name) => bits | COUNTED.get(name)!.bit, 0);

/** Methods of RFC 3261 and its common extensions: an unlisted one is unknown (501), a listed one not allowed here is 405. */
export const KNOWN_METHODS = [
  'INVITE',
  'ACK',
  'OPTIONS',
  'BYE',
  'CANCEL',
  'REGISTER',
  'PRACK',
  'SUBSCRIBE',
  'NOTIFY',
  'PUBLISH',
  'INFO',
  'REFER',
  'MESSAGE',
  'UPDATE',
] as const;

export interface UasPolicy {
  /** Methods this UAS handles (Allow). */
  readonly allowedMethods: readonly string[];
  /** Option tags this UAS supports (Require/Supported). */
  readonly supportedExtensions: readonly string[];
  /** Body types this UAS understands (Accept). */
  readonly acceptedContentTypes: readonly string[];
  /** Request-URI schemes this UAS serves. */
  readonly uriSchemes: readonly string[];
  /** Content types this UAS answers INVITE/OPTIONS with, checked against the request's Accept. */
  readonly responseContentType?: string;
  /** A B2BUA or proxy refuses Max-Forwards 0 (§16.3 step 3); a pure UAS may ignore it. */
  readonly enforceMaxForwards: boolean;
}

export type Rejection = { status: number; reason: string; headers: ExtraHeaders };

/**
 * The checks a UAS makes before processing a request, in the order of RFC 3261 §8.2 (method inspection,
 * header inspection, content processing). Returns the response to send, or undefined when the request may be
 * processed. ACK is never rejected: §17.1.1.3 — there is no response to an ACK.
 */
export function validateRequest(request: SipRequest, policy: UasPolicy): Rejection | undefined {
  if (request.method === 'ACK') return undefined;
  const structural = structuralDefect(request);
  if (structural) return structural;

  // §8.2.1: "If the UAS recognizes but does not support the method of a request, it MUST generate a 405
  // (Method Not Allowed) response" … "the UAS MUST include an Allow header field". Unknown methods: 501 (§21.5.2).
  if (!policy.allowedMethods.includes(request.method)) {
    const allow = policy.allowedMethods.join(', ');
    const known = (KNOWN_METHODS as readonly string[]).includes(request.method);
    return known
      ? { status: 405, reason: 'Method Not Allowed', headers: { Allow: allow } }
      : { status: 501, reason: 'Not Implemented', headers: { Allow: allow } };
  }

  // §16.3 step 3 (for the B2BUA's forwarding role): "If the request has a Max-Forwards header field value of
  // zero, the element MUST NOT forward the request"; §16.3: OPTIONS "MAY" be answered by the element itself.
  if (policy.enforceMaxForwards && request.method !== 'OPTIONS' && maxForwardsOf(request) === 0) {
    return { status: 483, reason: 'Too Many Hops', headers: {} };
  }

  // §8.2.2.1: "If the Request-URI uses a scheme not supported by the UAS, it SHOULD reject the request with a
  // 416 (Unsupported URI Scheme) response."
  if (!policy.uriSchemes.includes(requestUriOf(request).scheme))
    return { status: 416, reason: 'Unsupported URI Scheme', headers: {} };

  // §8.2.2.3: "If a UAS does not understand an option-tag listed in a Require header field, it MUST respond
  // by generating a response with status code 420 (Bad Extension). The UAS MUST add an Unsupported header
  // field". Not for CANCEL (§9.2: the Require of a CANCEL is not inspected).
  if (request.method !== 'CANCEL') {
    const unsupported = optionTagsOf(request, 'Require').filter(
      (tag) => !policy.supportedExtensions.includes(tag.toLowerCase()),
    );
    if (unsupported.length > 0) {
      return { status: 420, reason: 'Bad Extension', headers: { Unsupported: unsupported.join(', ') } };
    }
  }

  // §8.2.3: "If a UAS does not understand the request body type … it MUST reject the request with a 415
  // (Unsupported Media Type) response" listing Accept.
  if (request.body.length > 0) {
    // §20.15: "If the body is not empty, the Content-Type header field MUST be present"; without one the
    // body cannot be understood.
    const type = contentTypeOf(request)?.type ?? '';
    if (!policy.acceptedContentTypes.includes(type)) {
      return {
        status: 415,
        reason: 'Unsupported Media Type',
        headers: { Accept: policy.acceptedContentTypes.join(', ') },
      };
    }
  }

  // §21.4.7: 406 — "The resource identified by the request is only capable of generating response entities
  // that have content characteristics not acceptable according to the Accept header field".
  const accept = acceptOf(request);
  if (policy.responseContentType && request.method === 'INVITE' && accept && accept.length > 0) {
    const wanted = policy.responseContentType.toLowerCase();
    if (!accept.some((range) => mediaRangeMatches(range.type, wanted))) {
      return { status: 406, reason: 'Not Acceptable', headers: { Accept: policy.responseContentType } };
    }
  }
  return undefined;
}

const badRequest = (why: string): Rejection => ({
  status: 400,
  reason: 'Bad Request',
  headers: { Warning: `399 voxgate "${why.replace(/["\\]/g, "'")}"` },
});

/**
 * What makes a request unprocessable whatever the method: another SIP version (505, §8.2.2 via §21.5.7),
 * a missing mandatory header, a duplicated single-value header or a CSeq method that differs from the
 * request's (400, §8.1.1, §8.2.2.3, RFC 4475 §3.1.2.16/§3.3.1/§3.3.11), a malformed Max-Forwards or Contact
 * (400; parsed here, lazily, since the message parser leaves them as text). The wire parser already rejects
 * most of these; this keeps the check true for requests built in code.
 */
function structuralDefect(request: SipRequest): Rejection | undefined {
  if (request.version !== 'SIP/2.0' && request.version.toUpperCase() !== 'SIP/2.0') {
    return { status: 505, reason: 'Version Not Supported', headers: {} };
  }
  let seen = 0;
  let repeated = 0;
  for (const h of request.headers) {
    const counted = COUNTED.get(h.name);
    if (counted === undefined) continue;
    if (counted.singleton && (seen & counted.bit) !== 0) repeated |= counted.bit;
    seen |= counted.bit;
  }
  if ((seen & ALL_MANDATORY) !== ALL_MANDATORY) {
    return badRequest(`missing ${MANDATORY.find((name) => (seen & COUNTED.get(name)!.bit) === 0)}`);
  }
  if (repeated !== 0) {
    return badRequest(`duplicate ${SINGLETONS.find((name) => (repeated & COUNTED.get(name)!.bit) !== 0)}`);
  }
  if (request.cseq.method !== request.method) return badRequest('CSeq method does not match');
  try {
    maxForwardsOf(request);
    const contacts = contactsOf(request);
    // §12.1.1: a request that creates a dialog gives its remote target (Contact) and route set (Record-Route);
    // both must be usable as the Request-URI and Route of every later request in it (the BYE included). The
    // Contact's parse is the one contactsOf just made (a wildcard is no target).
    if (request.toTag === undefined && DIALOG_CREATING.has(request.method)) {
      checkTargets(contacts === '*' ? '*' : undefined, headerValues(request, 'Record-Route'));
    }
    requestUriOf(request);
    optionTagsOf(request, 'Require');
    contentTypeOf(request);
    acceptOf(request);
  } catch (err) {
    if (err instanceof SipParseError) return badRequest(err.message);
    throw err;
  }
  return undefined;
}
