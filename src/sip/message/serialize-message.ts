import type { SipMessage } from './sip-message.js';

interface Pristine {
  readonly headers: SipMessage['headers'];
  readonly body: Buffer;
  readonly startLine: string;
}

/**
 * What the parser produced, on the message under a symbol (copied along by `{ ...message }`): a copy whose
 * headers array, body or start line was replaced no longer matches it.
 */
const PRISTINE: unique symbol = Symbol('voxgate.sip.pristine');
type Marked = SipMessage & { [PRISTINE]?: Pristine };

function startLineOf(message: SipMessage): string {
  return message.kind === 'request'
    ? `${message.method} ${message.uri} ${message.version}`
    : `${message.version} ${message.status} ${message.reason}`;
}

/** Called by the parser: this message's headers, body and start line are exactly its `raw` bytes. */
export function markPristine(message: SipMessage): void {
  (message as Marked)[PRISTINE] = {
    headers: message.headers,
    body: message.body,
    startLine: startLineOf(message),
  };
}

/**
 * The wire form of a message. A parsed message whose headers, body and start line were not replaced is its
 * original bytes, byte for byte (folding, compact names, case and whitespace kept); otherwise it is written
 * anew in canonical form, with Content-Length computed from the body (§20.14).
 */
export function serializeMessage(message: SipMessage): Buffer {
  const p = (message as Marked)[PRISTINE];
  if (
    p &&
    message.raw &&
    p.headers === message.headers &&
    p.body === message.body &&
    p.startLine === startLineOf(message)
  ) {
    return message.raw;
  }
  const lines = [startLineOf(message)];
  for (const h of message.headers) if (h.name !== 'Content-Length') lines.push(`${h.name}: ${h.value}`);
  lines.push(`Content-Length: ${message.body.length}`, '', '');
  const head = Buffer.from(lines.join('\r\n'), 'utf8');
  return message.body.length > 0 ? Buffer.concat([head, message.body]) : head;
}
