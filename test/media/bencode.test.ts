import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import {
  BencodeError,
  decode,
  encode,
  type BencodeErrorCode,
  type BencodeValue,
} from '../../src/media/index.js';

const text = fc.string({ unit: 'binary', maxLength: 20 });
const notUtf8 = fc
  .uint8Array({ minLength: 1, maxLength: 20 })
  .map((bytes) => Buffer.from(bytes))
  .filter((bytes) => !isUtf8(bytes));
const integer = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constantFrom(0, -1, Number.MIN_SAFE_INTEGER));

function tree(leaf: fc.Arbitrary<BencodeValue>): fc.Arbitrary<BencodeValue> {
  return fc.letrec<{ v: BencodeValue }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      leaf,
      integer,
      fc.array(tie('v'), { maxLength: 5 }),
      fc.dictionary(text, tie('v'), { maxKeys: 5, noNullPrototype: true }),
    ),
  })).v;
}

/** The same value with every string value (not key) as its UTF-8 bytes: what `strings: 'bytes'` yields. */
function asBytes(v: BencodeValue): BencodeValue {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (typeof v === 'number' || Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) return v.map(asBytes);
  return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, asBytes(item)]));
}

function throwsCode(fn: () => unknown, code: BencodeErrorCode, label: string) {
  assert.throws(fn, (err: unknown) => err instanceof BencodeError && err.code === code, label);
}

describe('bencode encode', () => {
  test('encodes the ng protocol examples', () => {
    assert.equal(encode({ command: 'ping' }).toString(), 'd7:command4:pinge');
    assert.equal(encode({ b: 1, a: ['x', -2] }).toString(), 'd1:al1:xi-2ee1:bi1ee', 'keys sorted');
    assert.equal(encode('é').toString('latin1'), '2:\xc3\xa9', 'lengths in bytes');
    assert.equal(encode(Buffer.from([0xff, 0x00])).toString('latin1'), '2:\xff\x00');
    assert.equal(encode(-0).toString(), 'i0e');
    assert.equal(encode([]).toString(), 'le');
    assert.equal(encode({}).toString(), 'de');
  });

  test('orders keys by their UTF-8 bytes, not by UTF-16 units', () => {
    // U+FFFF sorts after U+10000 in UTF-16 (surrogates) but before it in UTF-8 (EF… < F0…).
    const encoded = encode({ '\u{10000}': 1, '\uFFFF': 2 }).toString('utf8');
    assert.equal(encoded, 'd3:\uFFFFi2e4:\u{10000}i1ee');
  });

  test('rejects what bencode cannot carry', () => {
    for (const bad of [1.5, NaN, Infinity, 2 ** 53, null, true, undefined, () => 1, Symbol('s')]) {
      throwsCode(() => encode(bad as unknown as BencodeValue), 'BENCODE_TYPE', String(bad));
    }
    throwsCode(() => encode('\uD800'), 'BENCODE_TYPE', 'lone surrogate');
    throwsCode(() => encode({ ['\uDC00']: 1 }), 'BENCODE_TYPE', 'lone surrogate in a key');
    const cyclic: BencodeValue[] = [];
    cyclic.push(cyclic);
    throwsCode(() => encode(cyclic), 'BENCODE_TOO_DEEP', 'a cycle ends at the depth limit');
    throwsCode(() => encode([[[1]]], { maxDepth: 2 }), 'BENCODE_TOO_DEEP', 'maxDepth');
    assert.equal(encode([[1]], { maxDepth: 2 }).toString(), 'lli1eee');
  });
});

describe('bencode decode', () => {
  test('decodes unsorted keys (RTPengine sends them so) and keeps "__proto__" a plain key', () => {
    const v = decode(Buffer.from('d7:command4:ping4:argsli1eee')) as Record<string, unknown>;
    assert.deepEqual(v, { command: 'ping', args: [1] });
    const proto = decode(Buffer.from('d9:__proto__d1:xi1eee')) as Record<string, unknown>;
    assert.ok(Object.hasOwn(proto, '__proto__'));
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
    assert.equal((proto as { x?: unknown }).x, undefined);
  });

  test('strings: UTF-8 → string, other bytes → Buffer; strings: bytes → always Buffer', () => {
    assert.equal(decode(Buffer.from('3:abc')), 'abc');
    assert.deepEqual(decode(Buffer.from('2:\xff\xfe', 'latin1')), Buffer.from([0xff, 0xfe]));
    assert.deepEqual(decode(Buffer.from('l3:abce'), { strings: 'bytes' }), [Buffer.from('abc')]);
    assert.deepEqual(decode(Buffer.from('d1:k1:ve'), { strings: 'bytes' }), { k: Buffer.from('v') });
  });

  test('integers: negative, zero, the safe range', () => {
    assert.equal(decode(Buffer.from('i-42e')), -42);
    assert.equal(decode(Buffer.from('i0e')), 0);
    assert.equal(decode(Buffer.from(`i${Number.MAX_SAFE_INTEGER}e`)), Number.MAX_SAFE_INTEGER);
    assert.equal(decode(Buffer.from(`i${Number.MIN_SAFE_INTEGER}e`)), Number.MIN_SAFE_INTEGER);
  });

  test('malformed input is a BencodeError with a stable code and an offset', () => {
    const cases: [string, BencodeErrorCode][] = [
      ['', 'BENCODE_TRUNCATED'],
      ['i01e', 'BENCODE_SYNTAX'],
      ['i-0e', 'BENCODE_SYNTAX'],
      ['i-01e', 'BENCODE_SYNTAX'],
      ['ie', 'BENCODE_SYNTAX'],
      ['i-e', 'BENCODE_SYNTAX'],
      ['i1x2e', 'BENCODE_SYNTAX'],
      ['i12', 'BENCODE_TRUNCATED'],
      ['i', 'BENCODE_TRUNCATED'],
      [`i${2 ** 53}e`, 'BENCODE_INTEGER_RANGE'],
      ['i123456789012345678901234567890e', 'BENCODE_INTEGER_RANGE'],
      ['05:hello', 'BENCODE_SYNTAX'],
      ['-1:a', 'BENCODE_SYNTAX'],
      ['5:abc', 'BENCODE_TRUNCATED'],
      ['5', 'BENCODE_TRUNCATED'],
      ['99999999999:x', 'BENCODE_TRUNCATED'],
      ['d3:keye', 'BENCODE_SYNTAX'],
      ['d3:key', 'BENCODE_TRUNCATED'],
      ['di1ei2ee', 'BENCODE_SYNTAX'],
      ['d1:ai1e1:ai2ee', 'BENCODE_DUPLICATE_KEY'],
      ['d1:\xffi1ee', 'BENCODE_KEY_ENCODING'],
      ['l', 'BENCODE_TRUNCATED'],
      ['li1e', 'BENCODE_TRUNCATED'],
      ['4:pingx', 'BENCODE_TRAILING'],
      ['dee', 'BENCODE_TRAILING'],
      ['i1ei2e', 'BENCODE_TRAILING'],
      ['x', 'BENCODE_SYNTAX'],
      ['e', 'BENCODE_SYNTAX'],
      ['l'.repeat(100) + 'e'.repeat(100), 'BENCODE_TOO_DEEP'],
    ];
    for (const [input, code] of cases) {
      const bytes = Buffer.from(input, 'latin1');
      throwsCode(() => decode(bytes), code, `${JSON.stringify(input.slice(0, 20))} → ${code}`);
    }
    assert.throws(
      () => decode(Buffer.from('d3:cmdi01ee')),
      (err: unknown) => err instanceof BencodeError && err.offset === 7,
      'the offset points at the bad number',
    );
  });

  test('limits: depth and size are configurable', () => {
    assert.deepEqual(decode(Buffer.from('llee'), { maxDepth: 2 }), [[]]);
    throwsCode(() => decode(Buffer.from('llleee'), { maxDepth: 2 }), 'BENCODE_TOO_DEEP', 'maxDepth');
    assert.equal(decode(Buffer.from('3:abc'), { maxBytes: 5 }), 'abc');
    throwsCode(() => decode(Buffer.from('4:abcd'), { maxBytes: 5 }), 'BENCODE_TOO_LARGE', 'maxBytes');
  });
});

describe('bencode properties', () => {
  test('decode(encode(x)) is x, with text strings and non-UTF-8 byte strings', () => {
    fc.assert(
      fc.property(tree(fc.oneof(text, notUtf8)), (v) => {
        assert.deepEqual(decode(encode(v)), v);
      }),
      { numRuns: 2000 },
    );
  });

  test('decode(encode(x), bytes) is x with every string value as bytes', () => {
    fc.assert(
      fc.property(
        tree(
          fc.oneof(
            text,
            fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)),
          ),
        ),
        (v) => {
          assert.deepEqual(decode(encode(v), { strings: 'bytes' }), asBytes(v));
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('encoding is canonical: re-encoding a decoded value gives the same bytes', () => {
    fc.assert(
      fc.property(
        tree(
          fc.oneof(
            text,
            fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)),
          ),
        ),
        (v) => {
          const bytes = encode(v);
          assert.deepEqual(encode(decode(bytes)), bytes);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('random bytes only ever raise BencodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decode(Buffer.from(bytes));
        } catch (err) {
          assert.ok(err instanceof BencodeError, String(err));
        }
      }),
      { numRuns: 20000 },
    );
  });

  test('mutated valid encodings only ever decode or raise BencodeError', () => {
    const mutated = fc
      .tuple(tree(text), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean())
      .map(([v, at, byte, truncate]) => {
        const bytes = Buffer.from(encode(v));
        const i = at % bytes.length;
        if (truncate) return bytes.subarray(0, i);
        bytes[i] = byte;
        return bytes;
      });
    fc.assert(
      fc.property(mutated, (bytes) => {
        try {
          decode(bytes);
        } catch (err) {
          assert.ok(err instanceof BencodeError, String(err));
        }
      }),
      { numRuns: 5000 },
    );
  });
});
