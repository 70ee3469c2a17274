/*
 * RFC 3261 §25.1, the pieces of a header value that the message parser's eager scanners read, over bytes:
 *   token          =  1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
 *   quoted-string  =  SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
 *   quoted-pair    =  "\" (%x00-09 / %x0B-0C / %x0E-7F)
 *   gen-value      =  token / host / quoted-string
 * A scanner reads the char codes of a header value: the message's bytes where its head is all ASCII (the byte is
 * the character), or the codes of a string (codesOf). Reading a byte array costs about half of reading the same
 * characters with charCodeAt, which has to tell the string's representation apart on every read.
 */
import { START_LINE_WORDS } from './words.js';

/** The codes of a string's characters, each at most 0x80 (codesOf); reused by the next call. */
let scratch = new Uint8Array(256);

/**
 * The characters of `text` as bytes, index for index, in a buffer reused by the next call: a character below
 * 0x80 as itself, any other as 0x80. Every scanner here treats all characters from 0x80 on alike (none is part
 * of a token, a host, whitespace or a delimiter; any of them is qdtext), so it reads these codes as it would the
 * string. The byte after the text is 0 (no character of any class).
 */
export function codesOf(text: string): Uint8Array {
  const n = text.length;
  if (n + 1 > scratch.length) scratch = new Uint8Array(Math.max(n + 1, scratch.length * 2));
  const out = scratch;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    out[i] = c < 0x80 ? c : 0x80;
  }
  out[n] = 0;
  return out;
}

/** token characters (§25.1), by code. */
export const TOKEN_BYTES = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~") {
  TOKEN_BYTES[c.charCodeAt(0)] = 1;
}

/** 0-9, A-F, a-f, ":" and ".", by code: what an IPv6 address is written with. */
const IPV6_BYTES = new Uint8Array(256);
for (const c of '0123456789ABCDEFabcdef:.') IPV6_BYTES[c.charCodeAt(0)] = 1;

/** Index past the spaces and tabs at `i` (no further than `end`). */
export function skipWsAt(b: Uint8Array, i: number, end: number): number {
  while (i < end && (b[i] === 0x20 || b[i] === 0x09)) i++;
  return i;
}

/** Index past the token characters at `i` (no further than `end`). */
export function tokenEndAt(b: Uint8Array, i: number, end: number): number {
  while (i < end && TOKEN_BYTES[b[i]!] === 1) i++;
  return i;
}

/** Index just past the closing DQUOTE of the quoted-string opening at `i`, or -1 when unterminated before `end`. */
export function quotedEndAt(b: Uint8Array, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    const c = b[j];
    if (c === 0x5c) j++;
    else if (c === 0x22) return j + 1;
  }
  return -1;
}

/** ";", "," or whitespace (SP, HT, CR, LF): where an unquoted parameter value or an addr-spec ends. */
export function isParamEndByte(c: number): boolean {
  return c === 0x3b || c === 0x2c || c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/**
 * Whether `b[start, end)` is a gen-value other than a quoted-string: token / host (hostname, IPv4, "[" IPv6 "]"),
 * or a bare IPv6address, which via-received allows (§25.1: via-received = "received" EQUAL (IPv4address /
 * IPv6address); RFC 5118 §4.5). A hostname or IPv4 address is a token; so the value is one token, or
 * "[" 1*(HEXDIG / ":" / ".") "]", or *(HEXDIG / ":" / ".") with at least one ":".
 */
export function isGenValueAt(b: Uint8Array, start: number, end: number): boolean {
  let token = end > start;
  let ipv6 = end > start;
  let colon = false;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (TOKEN_BYTES[c] !== 1) token = false;
    if (IPV6_BYTES[c] !== 1) ipv6 = false;
    else if (c === 0x3a) colon = true;
  }
  if (token || (ipv6 && colon)) return true;
  if (end - start < 3 || b[start] !== 0x5b || b[end - 1] !== 0x5d) return false;
  for (let i = start + 1; i < end - 1; i++) if (IPV6_BYTES[b[i]!] !== 1) return false;
  return true;
}

/**
 * Where the unquoted parameter value at `start` ends (at isParamEndByte or `end`) when it is a gen-value
 * (isGenValueAt), or -1: a token, the usual value, is read in one pass; anything else is checked by isGenValueAt.
 */
export function genValueEndAt(b: Uint8Array, start: number, end: number): number {
  let i = tokenEndAt(b, start, end);
  if (i > start && (i >= end || isParamEndByte(b[i]!))) return i;
  while (i < end && !isParamEndByte(b[i]!)) i++;
  return isGenValueAt(b, start, i) ? i : -1;
}

/**
 * The words of a start line and CSeq that nearly every message carries (words.ts's START_LINE_WORDS): a word
 * read from a message is this one string (the same string as words.ts's sliceWord returns: literals are shared)
 * instead of a new copy.
 */
const WORDS = START_LINE_WORDS.map((word) => ({
  word,
  codes: Uint8Array.from(word, (c) => c.charCodeAt(0)),
}));

/** WORDS by their length and first code: slot (length * 8 + (first & 7)) & 63, then the next free one. */
const WORD_SLOTS: ({ word: string; codes: Uint8Array } | undefined)[] = new Array<undefined>(64).fill(
  undefined,
);
for (const w of WORDS) {
  let slot = (w.codes.length * 8 + (w.codes[0]! & 7)) & 63;
  while (WORD_SLOTS[slot] !== undefined) slot = (slot + 1) & 63;
  WORD_SLOTS[slot] = w;
}

/**
 * `text.slice(start, end)` (not empty) of the text whose codes `b` are, index for index: the shared string when
 * `b[start, end)` spells one of WORDS (case kept: only that exact spelling), else a slice.
 */
export function wordAt(b: Uint8Array, text: string, start: number, end: number): string {
  const length = end - start;
  for (
    let slot = (length * 8 + (b[start]! & 7)) & 63, w = WORD_SLOTS[slot];
    w !== undefined;
    slot = (slot + 1) & 63, w = WORD_SLOTS[slot]
  ) {
    if (w.codes.length !== length) continue;
    let i = 0;
    while (i < length && b[start + i] === w.codes[i]) i++;
    if (i === length) return w.word;
  }
  return text.slice(start, end);
}

/**
 * Whether `b` holds "SIP/2.0" at `i`, before `end`: the SIP-Version of §25.1 (`"SIP" "/" 1*DIGIT "." 1*DIGIT`)
 * that this stack speaks, in upper case (§7.1: "the version string is case-insensitive, but implementations
 * MUST send upper-case"), as the start line and the Via's sent-protocol carry it.
 */
export function isSipTwoAt(b: Uint8Array, i: number, end: number): boolean {
  return (
    end - i >= 7 &&
    b[i] === 0x53 &&
    b[i + 1] === 0x49 &&
    b[i + 2] === 0x50 &&
    b[i + 3] === 0x2f &&
    b[i + 4] === 0x32 &&
    b[i + 5] === 0x2e &&
    b[i + 6] === 0x30
  );
}
