/** RFC 3261 §7.3.3 compact forms, and RFC 3841/3515/4028/6665 ones, to their canonical names. */
const compact: Record<string, string> = {
  i: 'Call-ID',
  m: 'Contact',
  e: 'Content-Encoding',
  l: 'Content-Length',
  c: 'Content-Type',
  f: 'From',
  s: 'Subject',
  k: 'Supported',
  t: 'To',
  v: 'Via',
  o: 'Event',
  r: 'Refer-To',
  b: 'Referred-By',
  x: 'Session-Expires',
  u: 'Allow-Events',
  a: 'Accept-Contact',
  j: 'Reject-Contact',
  d: 'Request-Disposition',
  y: 'Identity',
};

const canonical = new Map<string, string>(
  [
    'Accept',
    'Accept-Encoding',
    'Accept-Language',
    'Alert-Info',
    'Allow',
    'Authentication-Info',
    'Authorization',
    'Call-ID',
    'Call-Info',
    'Contact',
    'Content-Disposition',
    'Content-Encoding',
    'Content-Language',
    'Content-Length',
    'Content-Type',
    'CSeq',
    'Date',
    'Error-Info',
    'Expires',
    'From',
    'In-Reply-To',
    'Max-Forwards',
    'MIME-Version',
    'Min-Expires',
    'Organization',
    'Priority',
    'Proxy-Authenticate',
    'Proxy-Authorization',
    'Proxy-Require',
    'Record-Route',
    'Reply-To',
    'Require',
    'Retry-After',
    'Route',
    'Server',
    'Subject',
    'Supported',
    'Timestamp',
    'To',
    'Unsupported',
    'User-Agent',
    'Via',
    'Warning',
    'WWW-Authenticate',
    'RSeq',
    'RAck',
    'Session-Expires',
    'Min-SE',
    'Event',
    'Refer-To',
    'Referred-By',
    'Allow-Events',
    'Subscription-State',
    'Path',
    'Service-Route',
    'Reason',
    'P-Asserted-Identity',
  ].map((n) => [n.toLowerCase(), n]),
);

/** Names already written canonically (what most UAs send): found without lower-casing a copy first. */
const alreadyCanonical = new Set(canonical.values());

/** The canonical spelling of a header name (compact forms expanded; unknown names kept as written). */
export function canonicalHeaderName(name: string): string {
  if (alreadyCanonical.has(name)) return name;
  if (name.length === 1) {
    const full = compact[name.toLowerCase()];
    if (full) return full;
  }
  return canonical.get(name.toLowerCase()) ?? name;
}

interface Known {
  readonly name: string;
  /** The name's lower-case spelling (a compact form's letter), by char code. */
  readonly lower: Uint8Array;
}

/**
 * Every name canonicalHeaderName knows, in an open-addressing table indexed by its length and its first and last
 * letters (enough to tell most names apart without reading them all); slot 0 is empty, slot k holds known[k - 1].
 */
const SLOTS = 1024;
const known: Known[] = [];
const slots = new Uint16Array(SLOTS);

function slotOf(length: number, first: number, last: number): number {
  return (length * 61 + (first | 0x20) * 31 + (last | 0x20)) & (SLOTS - 1);
}

for (const [spelling, name] of [...canonical, ...Object.entries(compact)]) {
  const lower = Uint8Array.from(spelling, (c) => c.charCodeAt(0));
  let slot = slotOf(lower.length, lower[0]!, lower[lower.length - 1]!);
  while (slots[slot] !== 0) slot = (slot + 1) & (SLOTS - 1);
  known.push({ name, lower });
  slots[slot] = known.length;
}

/**
 * canonicalHeaderName of the name in `bytes[start, end)` (a token, not empty) when it is a name that
 * canonicalHeaderName knows, found without making a string of it; undefined for any other, whose spelling is
 * kept.
 */
export function knownHeaderName(bytes: Uint8Array, start: number, end: number): string | undefined {
  const length = end - start;
  for (
    let slot = slotOf(length, bytes[start]!, bytes[end - 1]!);
    slots[slot] !== 0;
    slot = (slot + 1) & (SLOTS - 1)
  ) {
    const k = known[slots[slot]! - 1]!;
    if (k.lower.length === length && sameBytes(bytes, start, k.lower)) return k.name;
  }
  return undefined;
}

/**
 * Whether the token `bytes` from `start` spells `lower`, letters in either case. Of two token characters, only an
 * upper- and a lower-case letter differ in bit 0x20 alone (its other pairs are a token character and a control
 * character, or "@", "^" or DEL, none of them token characters), so setting it compares letters without regard
 * to case and every other token character as itself.
 */
function sameBytes(bytes: Uint8Array, start: number, lower: Uint8Array): boolean {
  for (let i = 0; i < lower.length; i++) if ((bytes[start + i]! | 0x20) !== lower[i]) return false;
  return true;
}
