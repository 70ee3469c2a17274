/*
 * RFC 3261 §25.1:
 *   generic-param  =  token [ EQUAL gen-value ]
 *   gen-value      =  token / host / quoted-string
 *   SEMI           =  SWS ";" SWS
 *   EQUAL          =  SWS "=" SWS
 *   quoted-string  =  SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
 *   quoted-pair    =  "\" (%x00-09 / %x0B-0C / %x0E-7F)
 *   token          =  1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
 */
import { SipParseError, type SipErrorCode } from '../errors.js';
import { sliceWord } from './words.js';

/** A header parameter as written; `value` undefined when it has no `=`. Quoted values keep their quotes. */
export interface HeaderParam {
  readonly name: string;
  readonly value: string | undefined;
}

const TOKEN_CHAR = /[A-Za-z0-9\-.!%*_+`'~]/;

export function isTokenChar(c: string | undefined): boolean {
  return c !== undefined && TOKEN_CHAR.test(c);
}

/** Index past the spaces and tabs at `i` (no further than `end`). */
export function skipWs(text: string, i: number, end = text.length): number {
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09) break;
    i++;
  }
  return i;
}

/**
 * Index just past the closing DQUOTE of the quoted-string opening at `i`, or -1 when it is unterminated
 * before `end`.
 */
export function quotedStringEnd(text: string, i: number, end = text.length): number {
  for (let j = i + 1; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x5c) j++;
    else if (c === 0x22) return j + 1;
  }
  return -1;
}

/** RFC 3261 §25.1 token characters, by char code. */
const TOKEN_CODES = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~") {
  TOKEN_CODES[c.charCodeAt(0)] = 1;
}

/** Index past the token characters at `i` (no further than `end`). */
export function readToken(text: string, i: number, end = text.length): number {
  while (i < end && TOKEN_CODES[text.charCodeAt(i)] === 1) i++;
  return i;
}

/** 0-9, A-F, a-f, ":" and ".", by char code: what an IPv6 address is written with. */
const IPV6_CODES = new Uint8Array(128);
for (const c of '0123456789ABCDEFabcdef:.') IPV6_CODES[c.charCodeAt(0)] = 1;

/**
 * Whether `text[start, end)` is a gen-value other than a quoted-string: token / host (hostname, IPv4, "["
 * IPv6 "]"), or a bare IPv6address, which via-received allows (§25.1: via-received = "received" EQUAL
 * (IPv4address / IPv6address); RFC 5118 §4.5). A hostname or IPv4 address is a token; so the value is one
 * token, or "[" 1*(HEXDIG / ":" / ".") "]", or *(HEXDIG / ":" / ".") with at least one ":".
 */
export function isGenValue(text: string, start: number, end: number): boolean {
  let token = end > start;
  let ipv6 = end > start;
  let colon = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (TOKEN_CODES[c] !== 1) token = false;
    if (IPV6_CODES[c] !== 1) ipv6 = false;
    else if (c === 0x3a) colon = true;
  }
  if (token || (ipv6 && colon)) return true;
  if (end - start < 3 || text.charCodeAt(start) !== 0x5b || text.charCodeAt(end - 1) !== 0x5d) return false;
  for (let i = start + 1; i < end - 1; i++) if (IPV6_CODES[text.charCodeAt(i)] !== 1) return false;
  return true;
}

/**
 * Reads `*( SEMI generic-param )` from `i`; stops at a `,` or the end of the text. Returns the params and the
 * index where reading stopped. An empty or malformed parameter throws SipParseError with `code`.
 */
export function parseParams(
  text: string,
  i: number,
  code: SipErrorCode,
): { params: HeaderParam[]; end: number } {
  const params: HeaderParam[] = [];
  const end = readParams(text, i, code, params);
  return { params, end };
}

/**
 * parseParams of the header value `text[from, to)` from `i`, into `params` (or, without `params`, only checked:
 * the same errors, nothing built); returns the index where reading stopped.
 */
export function readParams(
  text: string,
  i: number,
  code: SipErrorCode,
  params: HeaderParam[] | undefined,
  from = 0,
  to = text.length,
): number {
  for (;;) {
    i = skipWs(text, i, to);
    if (i >= to || text.charCodeAt(i) === 0x2c) return i;
    if (text.charCodeAt(i) !== 0x3b) {
      throw bad(code, text, from, to, `unexpected "${text[i]}" where ";" or "," was expected`);
    }
    i = skipWs(text, i + 1, to);
    const nameEnd = readToken(text, i, to);
    if (nameEnd === i) throw bad(code, text, from, to, 'empty parameter');
    const name = i;
    i = skipWs(text, nameEnd, to);
    let value: string | undefined;
    if (i < to && text.charCodeAt(i) === 0x3d) {
      i = skipWs(text, i + 1, to);
      const start = i;
      if (i < to && text.charCodeAt(i) === 0x22) {
        i = quotedStringEnd(text, i, to);
        if (i === -1) throw bad(code, text, from, to, 'unterminated quoted string');
      } else {
        i = genValueEnd(text, start, to);
        if (i === -1) {
          throw bad(code, text, from, to, `malformed value of parameter ${text.slice(name, nameEnd)}`);
        }
      }
      if (params !== undefined) value = text.slice(start, i);
    }
    params?.push({ name: sliceWord(text, name, nameEnd), value });
  }
}

function bad(code: SipErrorCode, text: string, from: number, to: number, why: string): SipParseError {
  return new SipParseError(code, `${why} in "${text.slice(from, Math.min(to, from + 80))}"`);
}

/**
 * Where the unquoted parameter value at `start` ends (at isParamEnd or `end`) when it is a gen-value
 * (isGenValue), or -1: a token, the usual value, is read in one pass; anything else is checked by isGenValue.
 */
export function genValueEnd(text: string, start: number, end: number): number {
  let i = readToken(text, start, end);
  if (i > start && (i >= end || isParamEnd(text.charCodeAt(i)))) return i;
  while (i < end && !isParamEnd(text.charCodeAt(i))) i++;
  return isGenValue(text, start, i) ? i : -1;
}

/** ";", "," or whitespace (SP, HT, CR, LF): where an unquoted parameter value or an addr-spec ends. */
export function isParamEnd(c: number): boolean {
  return c === 0x3b || c === 0x2c || c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** A parameter's value by case-insensitive name: undefined when absent, '' when it has no value. */
export function paramValue(params: readonly HeaderParam[], name: string): string | undefined {
  for (const p of params) if (sameName(p.name, name)) return p.value ?? '';
  return undefined;
}

/** Whether two parameter names (tokens: ASCII) are equal without regard to case. */
function sameName(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y && !((x | 0x20) === (y | 0x20) && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7a)) return false;
  }
  return true;
}
