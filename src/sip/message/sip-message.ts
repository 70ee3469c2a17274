export interface SipHeader {
  /** Canonical name (compact forms expanded). */
  readonly name: string;
  /** Value with line folding replaced by a single space, surrounding whitespace trimmed. */
  readonly value: string;
}

interface SipMessageBase {
  readonly headers: readonly SipHeader[];
  readonly body: Buffer;
  /** The bytes the message was parsed from, when it came from the wire. */
  readonly raw?: Buffer;
  readonly callId: string;
  readonly cseq: { seq: number; method: string };
  readonly fromTag?: string;
  readonly toTag?: string;
  /** The topmost Via value. */
  readonly topVia: string;
}

export interface SipRequest extends SipMessageBase {
  readonly kind: 'request';
  readonly method: string;
  readonly uri: string;
  readonly version: string;
}

export interface SipResponse extends SipMessageBase {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
  readonly version: string;
}

export type SipMessage = SipRequest | SipResponse;

/** Headers that RFC 3261 §7.3.1 allows to be combined as comma-separated lists. */
const LIST_HEADERS = new Set([
  'Via',
  'Contact',
  'Route',
  'Record-Route',
  'Allow',
  'Supported',
  'Require',
  'Proxy-Require',
  'Unsupported',
  'Accept',
  'Accept-Encoding',
  'Accept-Language',
  'Content-Encoding',
  'Content-Language',
  'Allow-Events',
  'Path',
  'Service-Route',
  'Warning',
  'Reason',
  'Alert-Info',
  'Call-Info',
  'Error-Info',
  'In-Reply-To',
]);

/** First value of a header, or undefined. */
export function header(message: { headers: readonly SipHeader[] }, name: string): string | undefined {
  for (const h of message.headers) if (h.name === name) return h.value;
  return undefined;
}

/** Every value of a header, list headers split at top-level commas (not inside quotes or <>). */
export function headerValues(message: { headers: readonly SipHeader[] }, name: string): string[] {
  const out: string[] = [];
  for (const h of message.headers) {
    if (h.name !== name) continue;
    if (LIST_HEADERS.has(name)) out.push(...splitList(h.value));
    else out.push(h.value);
  }
  return out;
}

/**
 * The index of the first comma outside a quoted string (with its quoted-pairs) and outside `<…>`, from `from`
 * on (a position outside both), or -1: where the first element of a comma-separated header value (§7.3.1) ends
 * — the top via-parm of a Via, the first contact of a Contact.
 */
export function topLevelComma(value: string, from = 0): number {
  let depth = 0;
  let quoted = false;
  for (let i = from; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') depth++;
    else if (c === '>') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) return i;
  }
  return -1;
}

/** A comma-separated header value (§7.3.1) split into its elements, trimmed, empty ones dropped. */
export function splitList(value: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let comma = topLevelComma(value); comma >= 0; comma = topLevelComma(value, start)) {
    parts.push(value.slice(start, comma).trim());
    start = comma + 1;
  }
  parts.push(value.slice(start).trim());
  return parts.filter((p) => p.length > 0);
}

/** The value of `;name=value` in a header's parameters (outside quotes and <>), or undefined. */
export function headerParam(value: string, name: string): string | undefined {
  const lower = name.toLowerCase();
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '<') depth++;
    else if (c === '>') depth--;
    else if (c === ';' && depth === 0) {
      const rest = value.slice(i + 1);
      const m = /^\s*([^=;\s]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*))?/.exec(rest);
      if (m?.[1]?.toLowerCase() === lower) return m[2] ?? '';
    }
  }
  return undefined;
}
