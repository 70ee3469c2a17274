import { isUtf8 } from 'node:buffer';

/**
 * Bencode, the encoding of RTPengine's ng control protocol: `i<int>e`, `<len>:<bytes>`, `l…e`, `d…e`.
 *
 * Byte strings decode to JS strings when they are valid UTF-8 (all of the ng protocol's keys and nearly all
 * of its values) and stay `Buffer`s otherwise, so nothing is lost: `encode(decode(b))` is `b` for any canonical
 * input. With `{ strings: 'bytes' }` every string value decodes to a `Buffer`.
 */
export type BencodeValue = string | number | Buffer | BencodeList | BencodeDictionary;
export type BencodeList = BencodeValue[];
export interface BencodeDictionary {
  [key: string]: BencodeValue;
}

export type BencodeErrorCode =
  | 'BENCODE_TRUNCATED'
  | 'BENCODE_SYNTAX'
  | 'BENCODE_INTEGER_RANGE'
  | 'BENCODE_DUPLICATE_KEY'
  | 'BENCODE_KEY_ENCODING'
  | 'BENCODE_TOO_DEEP'
  | 'BENCODE_TOO_LARGE'
  | 'BENCODE_TRAILING'
  | 'BENCODE_TYPE';

export class BencodeError extends Error {
  override readonly name = 'BencodeError';
  constructor(
    readonly code: BencodeErrorCode,
    message: string,
    /** Byte offset in the input where decoding failed; -1 for encoding errors. */
    readonly offset: number,
  ) {
    super(message);
  }
}

export interface BencodeLimits {
  /** Deepest nesting of lists and dictionaries (the top-level value is depth 0). Default 32. */
  maxDepth?: number;
  /** Largest input accepted by decode. Default 4 MiB. */
  maxBytes?: number;
}

export interface DecodeOptions extends BencodeLimits {
  /** `text` (default): valid UTF-8 strings become JS strings, others Buffers. `bytes`: always Buffers. */
  strings?: 'text' | 'bytes';
}

const DEFAULT_MAX_DEPTH = 32;
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
const CH_D = 0x64;
const CH_E = 0x65;
const CH_I = 0x69;
const CH_L = 0x6c;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

export function encode(value: BencodeValue, limits: BencodeLimits = {}): Buffer {
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  // Text goes into one string, turned into bytes once; a byte string (Buffer) closes it. An ng command is
  // all text: one Buffer per message, not one per token.
  const parts: Buffer[] = [];
  let text = '';
  const fail = (message: string): never => {
    throw new BencodeError('BENCODE_TYPE', message, -1);
  };
  const string = (s: string): void => {
    if (LONE_SURROGATE.test(s)) fail('cannot encode a string with a lone UTF-16 surrogate');
    text += `${Buffer.byteLength(s, 'utf8')}:${s}`;
  };
  const bytes = (b: Buffer): void => {
    parts.push(Buffer.from(`${text}${b.length}:`, 'utf8'), b);
    text = '';
  };
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) fail(`cannot encode ${v}: only safe integers`);
      text += `i${v === 0 ? 0 : v}e`;
    } else if (typeof v === 'string') {
      string(v);
    } else if (Buffer.isBuffer(v)) {
      bytes(v);
    } else if (typeof v !== 'object' || v === null) {
      fail(`cannot encode a value of type ${v === null ? 'null' : typeof v}`);
    } else {
      if (depth >= maxDepth) {
        throw new BencodeError('BENCODE_TOO_DEEP', `nesting deeper than ${maxDepth}`, -1);
      }
      if (Array.isArray(v)) {
        text += 'l';
        for (const item of v) walk(item, depth + 1);
        text += 'e';
        return;
      }
      const dict = v as Record<string, unknown>;
      const keys = Object.keys(dict).filter((key) => dict[key] !== undefined);
      // Bencode orders keys by their raw bytes: UTF-16 order (the default sort) is the same for ASCII keys,
      // not beyond the BMP.
      if (keys.every(isAscii)) keys.sort();
      else keys.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
      text += 'd';
      for (const key of keys) {
        string(key);
        walk(dict[key], depth + 1);
      }
      text += 'e';
    }
  };
  walk(value, 0);
  if (parts.length === 0) return Buffer.from(text, 'utf8');
  parts.push(Buffer.from(text, 'utf8'));
  return Buffer.concat(parts);
}

/**
 * Decodes exactly one value spanning the whole input. Strict: no leading zeros, no `-0`, no trailing bytes,
 * no duplicate dictionary keys; unsorted keys are accepted (RTPengine sends them unsorted).
 */
export function decode(input: Buffer, options: DecodeOptions = {}): BencodeValue {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const asText = (options.strings ?? 'text') === 'text';
  let pos = 0;
  const fail = (code: BencodeErrorCode, what: string, at = pos): never => {
    throw new BencodeError(code, `${what} at byte ${at}`, at);
  };
  if (input.length > maxBytes)
    fail('BENCODE_TOO_LARGE', `input of ${input.length} bytes over ${maxBytes}`, 0);

  /** Reads `-?digits` up to `terminator`; `pos` ends after the terminator. */
  const number = (terminator: number, signed: boolean): number => {
    const start = pos;
    if (signed && input[pos] === CH_MINUS) pos++;
    const firstDigit = pos;
    while (pos < input.length) {
      const c = input[pos]!;
      if (c === terminator) break;
      if (c < CH_0 || c > CH_9) fail('BENCODE_SYNTAX', `unexpected byte 0x${c.toString(16)} in a number`);
      pos++;
    }
    if (pos === input.length) fail('BENCODE_TRUNCATED', 'input ends inside a number');
    const digits = pos - firstDigit;
    if (digits === 0) fail('BENCODE_SYNTAX', 'number without digits', start);
    if (input[firstDigit] === CH_0 && (digits > 1 || firstDigit > start)) {
      fail('BENCODE_SYNTAX', 'leading zero or -0', start);
    }
    if (digits > 16) fail('BENCODE_INTEGER_RANGE', 'number beyond 2^53', start);
    // Digits accumulated in place: no string per number (a relay's reply is mostly numbers).
    let n = 0;
    for (let i = firstDigit; i < pos; i++) n = n * 10 + (input[i]! - CH_0);
    if (firstDigit > start) n = -n;
    if (!Number.isSafeInteger(n)) fail('BENCODE_INTEGER_RANGE', 'number beyond 2^53', start);
    pos++; // the terminator
    return n;
  };

  const rawString = (): Buffer => {
    const len = number(CH_COLON, false);
    if (len > input.length - pos) fail('BENCODE_TRUNCATED', `string of ${len} bytes runs past the end`);
    const bytes = input.subarray(pos, pos + len);
    pos += len;
    return bytes;
  };

  /** The string `bytes` as text when it is UTF-8 (ASCII checked in place: most strings are). */
  const textOf = (bytes: Buffer): string | undefined => {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return bytes.toString('latin1');
    return isUtf8(bytes) ? bytes.toString('utf8') : undefined;
  };

  const value = (depth: number): BencodeValue => {
    if (pos >= input.length) fail('BENCODE_TRUNCATED', 'input ends where a value should start');
    const c = input[pos]!;
    if (c >= CH_0 && c <= CH_9) {
      const bytes = rawString();
      return (asText ? textOf(bytes) : undefined) ?? Buffer.from(bytes);
    }
    if (c === CH_I) {
      pos++;
      return number(CH_E, true);
    }
    if (c !== CH_L && c !== CH_D) return fail('BENCODE_SYNTAX', `unexpected byte 0x${c.toString(16)}`);
    if (depth >= maxDepth) fail('BENCODE_TOO_DEEP', `nesting deeper than ${maxDepth}`);
    pos++;
    if (c === CH_L) {
      const list: BencodeList = [];
      while (peekContainerEnd() === false) list.push(value(depth + 1));
      return list;
    }
    const dict: BencodeDictionary = {};
    while (peekContainerEnd() === false) {
      const keyAt = pos;
      const first = input[pos]!;
      if (first < CH_0 || first > CH_9) fail('BENCODE_SYNTAX', 'dictionary key is not a string');
      const key = textOf(rawString());
      if (key === undefined) return fail('BENCODE_KEY_ENCODING', 'dictionary key is not UTF-8', keyAt);
      if (Object.hasOwn(dict, key)) fail('BENCODE_DUPLICATE_KEY', `duplicate key "${key}"`, keyAt);
      const item = value(depth + 1);
      // A key named "__proto__" must stay an own, plain key: defineProperty for it alone (defining every key
      // that way turns each dictionary into a slow, dictionary-mode object).
      if (key === '__proto__')
        Object.defineProperty(dict, key, {
          value: item,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else dict[key] = item;
    }
    return dict;
  };

  /** True (and consumes the `e`) at the end of a list or dictionary. */
  const peekContainerEnd = (): boolean => {
    if (pos >= input.length) fail('BENCODE_TRUNCATED', 'input ends inside a list or dictionary');
    if (input[pos] !== CH_E) return false;
    pos++;
    return true;
  };

  const result = value(0);
  if (pos !== input.length) fail('BENCODE_TRAILING', 'trailing bytes after the value');
  return result;
}
