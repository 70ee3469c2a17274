import type { SipMessage } from './sip-message.js';

/**
 * The message as the parser produced it, on the message under a symbol (copied along by `{ ...message }`): a
 * copy whose headers array, body or start line was replaced no longer matches it. Messages are never changed
 * in place (their fields are readonly), so the parsed message itself is the record: nothing is allocated.
 */
/** The parsed message a message's `raw` bytes are, on the message (the parser makes the slot). */
export const PRISTINE: unique symbol = Symbol('voxgate.sip.pristine');
type Marked = SipMessage & { [PRISTINE]?: SipMessage };

function startLineOf(message: SipMessage): string {
  return message.kind === 'request'
    ? `${message.method} ${message.uri} ${message.version}`
    : `${message.version} ${message.status} ${message.reason}`;
}

/** Whether `message` has the start line, headers and body of `parsed`. */
function sameAs(message: SipMessage, parsed: SipMessage): boolean {
  if (
    parsed.headers !== message.headers ||
    parsed.body !== message.body ||
    parsed.version !== message.version
  )
    return false;
  if (message.kind === 'request')
    return parsed.kind === 'request' && parsed.method === message.method && parsed.uri === message.uri;
  return parsed.kind === 'response' && parsed.status === message.status && parsed.reason === message.reason;
}

/** Called by the parser: this message's headers, body and start line are exactly its `raw` bytes. */
export function markPristine(message: SipMessage): void {
  (message as Marked)[PRISTINE] = message;
}

/**
 * The wire form of a message. A parsed message whose headers, body and start line were not replaced is its
 * original bytes, byte for byte (folding, compact names, case and whitespace kept); otherwise it is written
 * anew in canonical form, with Content-Length computed from the body (§20.14).
 */
export function serializeMessage(message: SipMessage): Buffer {
  const parsed = (message as Marked)[PRISTINE];
  if (parsed && message.raw && sameAs(message, parsed)) return message.raw;
  const lines = [startLineOf(message)];
  for (const h of message.headers) if (h.name !== 'Content-Length') lines.push(`${h.name}: ${h.value}`);
  lines.push(`Content-Length: ${message.body.length}`, '', '');
  const head = Buffer.from(lines.join('\r\n'), 'utf8');
  return message.body.length > 0 ? Buffer.concat([head, message.body]) : head;
}
