/*
 * RFC 3261 §25.1, the part of SIP-URI a plain address uses:
 *   SIP-URI          =  "sip:" [ userinfo ] hostport uri-parameters [ headers ]
 *   userinfo         =  ( user / telephone-subscriber ) [ ":" password ] "@"
 *   user             =  1*( unreserved / escaped / user-unreserved )
 *   user-unreserved  =  "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
 *   hostport         =  host [ ":" port ]
 *   hostname         =  *( domainlabel "." ) toplabel [ "." ]
 *   uri-parameters   =  *( ";" uri-parameter)
 *   other-param      =  pname [ "=" pvalue ]
 *   paramchar        =  param-unreserved / unreserved / escaped
 *   param-unreserved =  "[" / "]" / "/" / ":" / "&" / "+" / "$"
 *   escaped          =  "%" HEXDIG HEXDIG
 */
import { charTable, escapedRun, hostnameEnd, PARAM_CHARS, UNRESERVED } from '../uri/char-classes.js';

/** Characters of a user part, without "?" (a plain address has none) and without "%" (checked as escaped). */
const USER_CODES = charTable(`${UNRESERVED}&=+$,;/`);

/**
 * Whether `s[start, end)` is a plain sip or sips URI — `sip:[user@]host[:port][;params]` with a hostname or
 * IPv4 address, no password, no `?headers`, no IPv6 reference — that is well-formed. Every URI it accepts,
 * parseUri accepts too; anything else (it returns false) is for parseUri to judge: a From or To that is not
 * plain is parsed in full.
 */
export function isPlainSipUri(s: string, start: number, end: number): boolean {
  let i = start;
  if (end - start < 4) return false;
  if ((s.charCodeAt(i) | 0x20) !== 0x73 || (s.charCodeAt(i + 1) | 0x20) !== 0x69) return false;
  if ((s.charCodeAt(i + 2) | 0x20) !== 0x70) return false;
  i += 3;
  if ((s.charCodeAt(i) | 0x20) === 0x73) i++;
  if (s.charCodeAt(i) !== 0x3a || i >= end) return false;
  i++;
  // userinfo: parseSipUri ends it at the first "@" of the rest. The user's characters are read from the start;
  // when they end elsewhere than at an "@", there is no userinfo — or an "@" further on, which no character of a
  // host, port or parameter is, so that reading them from the start refuses it.
  const user = escapedRun(s, i, end, USER_CODES);
  if (user === -1) return false;
  if (user < end && s.charCodeAt(user) === 0x40) {
    if (user === i) return false;
    i = user + 1;
  }
  i = hostnameEnd(s, i, end);
  if (i === -1) return false;
  if (i < end && s.charCodeAt(i) === 0x3a) {
    // port = 1*DIGIT, at most 5 digits and at most 65535, followed by the parameters or the end.
    let port = 0;
    const digits = ++i;
    for (let c = s.charCodeAt(i); i < end && c >= 0x30 && c <= 0x39; c = s.charCodeAt(++i)) {
      port = port * 10 + (c - 0x30);
    }
    if (i === digits || i - digits > 5 || port > 65535) return false;
  }
  // uri-parameters = *( ";" pname [ "=" pvalue ] ), pname = 1*paramchar, pvalue = *paramchar
  while (i < end) {
    if (s.charCodeAt(i) !== 0x3b) return false;
    const name = i + 1;
    i = escapedRun(s, name, end, PARAM_CHARS);
    if (i <= name) return false;
    if (i < end && s.charCodeAt(i) === 0x3d) {
      i = escapedRun(s, i + 1, end, PARAM_CHARS);
      if (i === -1) return false;
    }
  }
  return true;
}
