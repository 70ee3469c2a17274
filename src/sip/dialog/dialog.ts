import { isSipsUri } from '../uri/sips.js';
import { withoutTag } from '../headers/name-addr.js';
import { randomBase64url } from '../random-token.js';
import { SipParseError } from '../errors.js';
import { parseContact } from '../headers/contact.js';
import { buildRequest } from '../message/build-response.js';
import { outgoingRequest, type OutgoingRequest } from '../transaction/outgoing-request.js';
import {
  header,
  headerValues,
  type SipHeader,
  type SipRequest,
  type SipResponse,
} from '../message/sip-message.js';

/** §12: "A dialog is identified at each UA with a dialog ID, which consists of a Call-ID value, a local tag and a remote tag." */
export interface DialogId {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
}

export interface Dialog {
  readonly id: DialogId;
  state: 'early' | 'confirmed' | 'terminated';
  /** Local sequence number; undefined until we send a request in the dialog (UAS side, §12.1.1). */
  localSeq: number | undefined;
  remoteSeq: number | undefined;
  /** name-addr values of the From/To we use, without tag. */
  readonly localUri: string;
  readonly remoteUri: string;
  /** The remote target (Contact URI); refreshed by target refresh requests (§12.2). */
  remoteTarget: string;
  /** Route set, as Route header values, in the order they are to be sent. */
  readonly routeSet: readonly string[];
  readonly secure: boolean;
}

export function dialogKey(id: DialogId): string {
  return `${id.callId}\u0000${id.localTag}\u0000${id.remoteTag}`;
}

/** The URI inside a name-addr (`"A" <sip:a@b>;p=1` → `sip:a@b`) or an addr-spec. */
export function uriOf(value: string): string {
  const m = /<([^>]*)>/.exec(value);
  return (m ? m[1]! : value.split(';')[0]!).trim();
}

/**
 * §12.1.1: the UAS creates the dialog from the request and its own response (1xx early, 2xx confirmed).
 * "The route set MUST be set to the list of URIs in the Record-Route header field from the request, taken in
 * order and preserving all URI parameters. … The remote target MUST be set to the URI from the Contact header
 * field of the request. The remote sequence number MUST be set to the value of the sequence number in the CSeq
 * header field of the request. The local sequence number MUST be empty."
 */
export function createUasDialog(request: SipRequest, localTag: string, status: number): Dialog {
  const contact = headerValues(request, 'Contact')[0];
  const routeSet = headerValues(request, 'Record-Route');
  checkTargets(contact, routeSet);
  return {
    id: { callId: request.callId, localTag, remoteTag: request.fromTag ?? '' },
    state: status < 200 ? 'early' : 'confirmed',
    localSeq: undefined,
    remoteSeq: request.cseq.seq,
    localUri: withoutTag(header(request, 'To') ?? ''),
    remoteUri: withoutTag(header(request, 'From') ?? ''),
    remoteTarget: contact ? uriOf(contact) : request.uri,
    routeSet,
    secure: isSipsUri(request.uri),
  };
}

/**
 * §12.1.2: the UAC creates the dialog from its request and a 1xx/2xx response with a To tag. "The route set
 * MUST be set to the list of URIs in the Record-Route header field from the response, taken in reverse order
 * … The remote target MUST be set to the URI from the Contact header field of the response. The local sequence
 * number MUST be set to the value of the sequence number in the CSeq header field of the request. The remote
 * sequence number MUST be empty."
 */
export function createUacDialog(request: SipRequest, response: SipResponse): Dialog {
  const contact = headerValues(response, 'Contact')[0];
  const recordRoute = headerValues(response, 'Record-Route');
  checkTargets(contact, recordRoute);
  return {
    id: { callId: request.callId, localTag: request.fromTag ?? '', remoteTag: response.toTag ?? '' },
    state: response.status < 200 ? 'early' : 'confirmed',
    localSeq: request.cseq.seq,
    remoteSeq: undefined,
    localUri: withoutTag(header(request, 'From') ?? ''),
    remoteUri: withoutTag(header(request, 'To') ?? ''),
    remoteTarget: contact ? uriOf(contact) : request.uri,
    routeSet: [...recordRoute].reverse(),
    secure: isSipsUri(request.uri),
  };
}

/**
 * §12.2.1.1: a request within the dialog. To = remote URI with remote tag, From = local URI with local tag,
 * the dialog's Call-ID, CSeq = local sequence number + 1 ("MUST be incremented by one"), except ACK and CANCEL,
 * which reuse the sequence number of the request they belong to. Request-URI and Route per §12.2.1.1 loose
 * routing (first route has `lr`) or strict routing (the first route becomes the Request-URI and the remote
 * target is appended as the last Route).
 */
export function buildDialogRequest(dialog: Dialog, method: string, options: DialogRequestOptions): Buffer {
  const { uri, headers } = dialogRequestParts(dialog, method, options);
  return buildRequest(method, uri, headers, options.body);
}

/**
 * The same request as `buildDialogRequest`, with the request its bytes parse as (`outgoingRequest`): for a
 * client transaction, which then does not parse it back.
 */
export function dialogRequest(
  dialog: Dialog,
  method: string,
  options: DialogRequestOptions,
): OutgoingRequest {
  const { uri, headers } = dialogRequestParts(dialog, method, options);
  return outgoingRequest(method, uri, headers, options.body);
}

export interface DialogRequestOptions {
  via: string;
  contact?: string;
  headers?: readonly SipHeader[];
  body?: Buffer;
  cseq?: number;
}

function dialogRequestParts(
  dialog: Dialog,
  method: string,
  options: DialogRequestOptions,
): { uri: string; headers: SipHeader[] } {
  let cseq: number;
  if (options.cseq !== undefined) cseq = options.cseq;
  else if (method === 'ACK' || method === 'CANCEL') cseq = dialog.localSeq ?? 1;
  else cseq = dialog.localSeq = (dialog.localSeq ?? Math.floor(Math.random() * 2 ** 30)) + 1;

  let requestUri = dialog.remoteTarget;
  let routes = [...dialog.routeSet];
  const first = routes[0];
  if (
    // §12.2.1.1: a first route URI with the lr parameter is a loose router; without it, a strict router.
    first !== undefined &&
    !/;\s*lr(?:=[^;]*)?(?:;|$)/i.test(uriOf(first))
  ) {
    requestUri = uriOf(first);
    routes = [...routes.slice(1), `<${dialog.remoteTarget}>`];
  }
  const headers: SipHeader[] = [
    { name: 'Via', value: options.via },
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: `${dialog.localUri};tag=${dialog.id.localTag}` },
    { name: 'To', value: `${dialog.remoteUri};tag=${dialog.id.remoteTag}` },
    { name: 'Call-ID', value: dialog.id.callId },
    { name: 'CSeq', value: `${cseq} ${method}` },
    ...routes.map((value) => ({ name: 'Route', value })),
    ...(options.contact ? [{ name: 'Contact', value: options.contact }] : []),
    ...(options.headers ?? []),
  ];
  return { uri: requestUri, headers };
}

/**
 * The remote target and route set of a new dialog must be URIs the dialog's later requests can carry (a
 * Request-URI, Route values): a Contact of `*` or a URI that does not parse would make every in-dialog request
 * — the BYE that ends the call included — unbuildable. Throws SipParseError so that the dialog is refused when
 * the message that would create it arrives (§8.2: 400 to a request; a response is not processed), not when
 * the call is torn down.
 */
export function checkTargets(contact: string | undefined, routes: readonly string[]): void {
  if (contact !== undefined && !isTarget(contact)) {
    throw new SipParseError('SIP_PARSE_ADDRESS', `Contact "${contact}" is not one SIP URI`);
  }
  for (const route of routes) {
    if (parseContact(route) === '*') {
      throw new SipParseError('SIP_PARSE_ADDRESS', `Record-Route "${route}" is not a URI`);
    }
  }
}

function isTarget(contact: string): boolean {
  try {
    const parsed = parseContact(contact);
    return parsed !== '*' && parsed.length === 1;
  } catch (err) {
    if (err instanceof SipParseError) return false;
    throw err;
  }
}

/** Methods whose Contact replaces the remote target (§12.2: re-INVITE; RFC 3311 UPDATE). */
const TARGET_REFRESH = new Set(['INVITE', 'UPDATE']);

/**
 * §12.2.2: a request the remote party sent within the dialog. "If the remote sequence number is empty, it MUST
 * be set to the value of the sequence number in the CSeq header field value in the request. If the remote
 * sequence number was not empty, but the sequence number of the request is lower than the remote sequence
 * number, the request is out of order and MUST be rejected with a 500 (Server Internal Error) response."
 * Returns the rejection status, or undefined when the request is accepted (and the dialog updated).
 */
export function receiveDialogRequest(dialog: Dialog, request: SipRequest): 500 | undefined {
  if (request.method === 'ACK' || request.method === 'CANCEL') return undefined;
  const seq = request.cseq.seq;
  if (dialog.remoteSeq !== undefined && seq <= dialog.remoteSeq) return 500;
  dialog.remoteSeq = seq;
  if (TARGET_REFRESH.has(request.method)) {
    // A Contact that is not one SIP URI cannot be a remote target (it could not even be a Request-URI):
    // the dialog keeps the one it has.
    const contact = headerValues(request, 'Contact')[0];
    if (contact && isTarget(contact)) dialog.remoteTarget = uriOf(contact);
  }
  if (request.method === 'BYE') dialog.state = 'terminated';
  return undefined;
}

/** A fresh branch for a new client transaction (§8.1.1.7: the magic cookie, then enough randomness). */
export function newBranch(): string {
  return `z9hG4bK${randomBase64url(10)}`;
}
