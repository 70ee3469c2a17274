/**
 * A Date header value, RFC 3261 §20.17: "SIP only supports the most recent RFC 1123 format for dates … SIP
 * restricts the time zone in SIP-date to "GMT"". `Date.prototype.toUTCString` writes exactly that; its text is
 * kept for the second it names, since a registrar answering thousands of REGISTERs a second asks for the same
 * text each time (a Date object and its formatting cost ~3 µs a response).
 */
export function createSipDate(): (epochMs: number) => string {
  let second = Number.NaN;
  let text = '';
  return (epochMs) => {
    const s = Math.floor(epochMs / 1000);
    if (s !== second) {
      second = s;
      text = new Date(s * 1000).toUTCString();
    }
    return text;
  };
}
