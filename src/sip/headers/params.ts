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

/** A header parameter as written; `value` undefined when it has no `=`. Quoted values keep their quotes. */
export interface HeaderParam {
  readonly name: string;
  readonly value: string | undefined;
}

const TOKEN_CHAR = /[A-Za-z0-9\-.!%*_+`'~]/;
/**
 * token / host (hostname, IPv4, "[" IPv6 "]") as a gen-value, and a bare IPv6address, which via-received allows
 * (§25.1: via-received = "received" EQUAL (IPv4address / IPv6address); RFC 5118 §4.5).
 */
const GEN_VALUE = /^(?:[A-Za-z0-9\-.!%*_+`'~]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/;

export function isTokenChar(c: string | undefined): boolean {
  return c !== undefined && TOKEN_CHAR.test(c);
}

export function skipWs(text: string, i: number): number {
  for (let c = text.charCodeAt(i); c === 0x20 || c === 0x09; c = text.charCodeAt(i)) i++;
  return i;
}

/** Index just past the closing DQUOTE of the quoted-string opening at `i`, or -1 when it is unterminated. */
export function quotedStringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === '\\') j++;
    else if (c === '"') return j + 1;
  }
  return -1;
}

/** RFC 3261 §25.1 token characters, by char code. */
const TOKEN_CODES = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~") {
  TOKEN_CODES[c.charCodeAt(0)] = 1;
}

export function readToken(text: string, i: number): number {
  while (i < text.length && TOKEN_CODES[text.charCodeAt(i)] === 1) i++;
  return i;
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
  for (;;) {
    i = skipWs(text, i);
    if (i >= text.length || text[i] === ',') return { params, end: i };
    if (text[i] !== ';') throw bad(code, text, `unexpected "${text[i]}" where ";" or "," was expected`);
    i = skipWs(text, i + 1);
    const nameEnd = readToken(text, i);
    if (nameEnd === i) throw bad(code, text, 'empty parameter');
    const name = text.slice(i, nameEnd);
    i = skipWs(text, nameEnd);
    let value: string | undefined;
    if (text[i] === '=') {
      i = skipWs(text, i + 1);
      if (text[i] === '"') {
        const end = quotedStringEnd(text, i);
        if (end === -1) throw bad(code, text, 'unterminated quoted string');
        value = text.slice(i, end);
        i = end;
      } else {
        let end = i;
        while (end < text.length && !isParamEnd(text.charCodeAt(end))) end++;
        value = text.slice(i, end);
        if (!GEN_VALUE.test(value)) throw bad(code, text, `malformed value of parameter ${name}`);
        i = end;
      }
    }
    params.push({ name, value });
  }
}

function bad(code: SipErrorCode, text: string, why: string): SipParseError {
  return new SipParseError(code, `${why} in "${text.slice(0, 80)}"`);
}

/** ";", "," or whitespace (SP, HT, CR, LF): where an unquoted parameter value or an addr-spec ends. */
export function isParamEnd(c: number): boolean {
  return c === 0x3b || c === 0x2c || c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** A parameter's value by case-insensitive name: undefined when absent, '' when it has no value. */
export function paramValue(params: readonly HeaderParam[], name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const p of params) if (p.name.toLowerCase() === lower) return p.value ?? '';
  return undefined;
}
