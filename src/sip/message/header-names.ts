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
