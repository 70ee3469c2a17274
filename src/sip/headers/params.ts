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
import { codesOf, genValueEndAt, isGenValueAt, quotedEndAt, skipWsAt, tokenEndAt } from './byte-scan.js';
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

/**
 * Whether `text[start, end)` is a gen-value other than a quoted-string (isGenValueAt, over the text's codes).
 */
export function isGenValue(text: string, start: number, end: number): boolean {
  return isGenValueAt(codesOf(text), start, end);
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
  const end = readParamsAt(codesOf(text), text, i, code, params, 0, text.length);
  return { params, end };
}

/**
 * parseParams of the header value `text[from, to)` from `i`, over `b`, the codes of `text` index for index (the
 * message's bytes, or codesOf(text)), into `params` (or, without `params`, only checked: the same errors,
 * nothing built); returns the index where reading stopped.
 */
export function readParamsAt(
  b: Uint8Array,
  text: string,
  i: number,
  code: SipErrorCode,
  params: HeaderParam[] | undefined,
  from: number,
  to: number,
): number {
  for (;;) {
    i = skipWsAt(b, i, to);
    if (i >= to || b[i] === 0x2c) return i;
    if (b[i] !== 0x3b) {
      throw bad(code, text, from, to, `unexpected "${text[i]}" where ";" or "," was expected`);
    }
    i = skipWsAt(b, i + 1, to);
    const nameEnd = tokenEndAt(b, i, to);
    if (nameEnd === i) throw bad(code, text, from, to, 'empty parameter');
    const name = i;
    i = skipWsAt(b, nameEnd, to);
    let value: string | undefined;
    if (i < to && b[i] === 0x3d) {
      i = skipWsAt(b, i + 1, to);
      const start = i;
      if (i < to && b[i] === 0x22) {
        i = quotedEndAt(b, i, to);
        if (i === -1) throw bad(code, text, from, to, 'unterminated quoted string');
      } else {
        i = genValueEndAt(b, start, to);
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
