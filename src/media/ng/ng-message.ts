import { decode, encode, type BencodeDictionary } from './bencode.js';
import { NgMessageError } from './ng-errors.js';

export type NgDictionary = BencodeDictionary;

export interface NgMessage {
  cookie: string;
  body: NgDictionary;
}

const SPACE = 0x20;
/** Longest cookie accepted; real ones (Kamailio, OpenSIPS, ours) are a few dozen bytes. */
export const MAX_COOKIE_LENGTH = 128;
const COOKIE = /^[\x21-\x7e]+$/;

export function isValidCookie(cookie: string): boolean {
  return cookie.length <= MAX_COOKIE_LENGTH && COOKIE.test(cookie);
}

/**
 * The cookie of a datagram, read without decoding its body (to address an error reply, or to find a cached
 * reply), if it has one: printable ASCII without spaces, then one space.
 */
export function peekCookie(datagram: Buffer): string | undefined {
  const space = datagram.subarray(0, MAX_COOKIE_LENGTH + 1).indexOf(SPACE);
  if (space <= 0) return undefined;
  const cookie = datagram.toString('latin1', 0, space);
  return COOKIE.test(cookie) ? cookie : undefined;
}

/**
 * One ng datagram: `<cookie> <bencoded dictionary>`. The cookie is any run of printable non-space bytes chosen
 * by the sender; the reply echoes it so the sender can match it and the receiver can detect retransmissions.
 * Throws NgMessageError for bad framing, BencodeError for a bad body.
 */
export function parseNgMessage(datagram: Buffer): NgMessage {
  const cookie = peekCookie(datagram);
  if (cookie === undefined) {
    throw new NgMessageError('NG_BAD_FRAMING', 'no cookie (printable, no spaces) followed by a space');
  }
  const body = decode(datagram.subarray(cookie.length + 1));
  if (typeof body !== 'object' || Array.isArray(body) || Buffer.isBuffer(body)) {
    throw new NgMessageError('NG_NOT_A_DICTIONARY', 'the message body is not a dictionary');
  }
  return { cookie, body };
}

export function formatNgMessage(cookie: string, body: NgDictionary): Buffer {
  if (!isValidCookie(cookie)) {
    throw new NgMessageError('NG_BAD_FRAMING', 'a cookie is 1-128 printable ASCII characters, no spaces');
  }
  return Buffer.concat([Buffer.from(`${cookie} `, 'latin1'), encode(body)]);
}
