/*
 * The message parser reads its eager headers (Via, From/To tag, Call-ID, CSeq) and the start line over the
 * message's bytes where its head is all ASCII, and over codesOf(value) for a value string. Pinned here: the byte
 * scanners give the verdicts of the string functions they stand for, inside a longer text (bytes after the
 * value's end do not count); characters from 0x80 on, whatever their low byte, are no delimiter; header names
 * are told apart as canonicalHeaderName does; shared words are only the exact spellings.
 */
import { isAscii } from 'node:buffer';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { codesOf, wordAt } from '../../src/sip/headers/byte-scan.js';
import { isCallId, isCallIdAt } from '../../src/sip/headers/call-id.js';
import { parseCSeq, parseCSeqAt } from '../../src/sip/headers/cseq.js';
import { fromToTagAt, NOT_PLAIN, plainFromToTag, TAG, TAG_FOUND } from '../../src/sip/headers/from-to-tag.js';
import { isPlainSipUri } from '../../src/sip/headers/plain-sip-uri.js';
import { isPlainSipUriAt, plainSipUriEnd } from '../../src/sip/headers/plain-sip-uri-at.js';
import { checkViaAt, parseVia } from '../../src/sip/headers/via.js';
import { canonicalHeaderName, knownHeaderName } from '../../src/sip/message/header-names.js';
import { parseMessage, SipParseError } from '../../src/sip/index.js';
import { refAddress, refCSeq, referenceParse, refVia } from './support/reference-parser.js';

const scale = Number(process.env.VOXGATE_FUZZ_RUNS ?? 20_000) / 20_000;
const runs = (n: number) => Math.max(1, Math.round(n * scale));

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof SipParseError) return err.code;
    throw err;
  }
}

/**
 * `value` in a text with more after it, which a scanner must not read as part of it — characters of hosts, tokens,
 * digits and parameters, or a space and a control character: the text, its bytes, and where the value is.
 */
function inHead(value: string, after: string): { bytes: Buffer; text: string; from: number; to: number } {
  const text = `X: ${value}${after}\r\nVia: a\r\n`;
  return { bytes: Buffer.from(text, 'latin1'), text, from: 3, to: 3 + value.length };
}

const after = fc.constantFrom('7a-b.c;d=e@f:g>h', ' \u0001');

const uriPieces = fc.constantFrom(
  'sip:',
  'sips:',
  'SIP:',
  'sipx:',
  'tel:',
  'alice',
  'al%41ce',
  '%4',
  '%zz',
  '@',
  'example.com',
  'a-b.example.',
  '-x',
  'x-',
  '.',
  '192.0.2.1',
  '[2001:db8::1]',
  ':',
  ':5060',
  ':99999',
  ';',
  ';lr',
  ';transport=udp',
  '=',
  '?h=v',
  '>',
  ' ',
  '+44',
  ',',
  '/',
  '\u00e9',
);
/** Mostly well-formed sip URIs (a plain one is what the scanners read in full), and anything from the pieces. */
const plainUri = fc
  .tuple(
    fc.constantFrom('sip:', 'sips:', 'SIP:'),
    fc.constantFrom('', 'alice@', '+442079460000@', 'a%41@', '@'),
    fc.constantFrom('example.com', 'gw.example.com', '198.51.100.17', 'x-', '[::1]'),
    fc.constantFrom('', ':5060', ':99999', ':'),
    fc.constantFrom('', ';lr', ';transport=udp', ';user=phone;lr', ';', '?h=v'),
  )
  .map((p) => p.join(''));
const uri = fc.oneof(
  plainUri,
  fc.array(uriPieces, { maxLength: 7 }).map((p) => p.join('')),
);

/** Characters from 0x80 on whose low byte is a character the scanners look for. */
const lookalikes = [
  '\u013c',
  '\u013e',
  '\u013b',
  '\u013a',
  '\u0122',
  '\u0120',
  '\u0140',
  '\u012c',
  '\u0109',
  '\u00a0',
];

describe('byte scanners: the verdicts of the string functions', () => {
  test('isPlainSipUriAt over the bytes of a longer text is isPlainSipUri', () => {
    fc.assert(
      fc.property(uri, (u) => {
        const text = `<${u}>;tag=a@b:c;d`;
        const end = 1 + u.length;
        assert.equal(isPlainSipUriAt(codesOf(text), 1, end), isPlainSipUri(text, 1, end), JSON.stringify(u));
        if (isAscii(Buffer.from(text, 'utf8'))) {
          assert.equal(isPlainSipUriAt(Buffer.from(text, 'latin1'), 1, end), isPlainSipUri(text, 1, end), u);
        }
      }),
      { numRuns: runs(20_000) },
    );
  });

  test('in <>, the URI read up to where it stops is plain exactly when it stops at the first ">"', () => {
    fc.assert(
      fc.property(uri, (u) => {
        const text = `<${u}>;tag=x>`;
        const gt = text.indexOf('>', 1);
        const end = plainSipUriEnd(codesOf(text), 1, text.length);
        assert.equal(end !== -1 && text[end] === '>', isPlainSipUri(text, 1, gt), JSON.stringify(u));
        if (end !== -1 && text[end] === '>') assert.equal(end, gt, JSON.stringify(u));
      }),
      { numRuns: runs(20_000) },
    );
  });

  test('a From/To tag read over the message bytes is the one read over the value', () => {
    const piece = fc.constantFrom(
      '"Alice"',
      '"a;tag=q"',
      'Alice ',
      '<',
      '>',
      ' ',
      ';tag=',
      ';TAG=',
      ';tag',
      'abc',
      '"q"',
      ';x=[::1]',
      ',',
      '=',
      '"',
      '\\',
    );
    const display = fc.constantFrom('', '<', '"Alice" <', 'Alice <', ' <', '"a;tag=q"<');
    const params = fc.oneof(
      fc.constantFrom('>;tag=1928301774', '>', '>;tag=abc;lr', '> ; TAG = q', '>;tag', '>;tag="x"', ';tag=a'),
      fc.array(piece, { maxLength: 5 }).map((p) => p.join('')),
    );
    fc.assert(
      fc.property(display, uri, params, after, (before, u, rest, next) => {
        const v = before + u + rest;
        if (!isAscii(Buffer.from(v, 'utf8'))) return;
        const { bytes, text, from, to } = inHead(v, next);
        const found = fromToTagAt(bytes, from, to);
        const tag = found === TAG_FOUND ? text.slice(TAG[0], TAG[1]) : undefined;
        const byValue = plainFromToTag(v);
        assert.equal(found === 0, byValue === NOT_PLAIN, JSON.stringify(v));
        if (byValue !== NOT_PLAIN) assert.equal(tag, byValue, JSON.stringify(v));
      }),
      { numRuns: runs(20_000) },
    );
  });

  test('Via, CSeq and Call-ID read over the message bytes: the same result or error as over the value', () => {
    const piece = fc.constantFrom(
      'SIP/2.0/UDP ',
      'SIP / 2.0 / TCP\t',
      'sip/2.0/ws ',
      'SIP/2.0/UDP',
      '198.51.100.17',
      '[2001:db8::1]',
      'host.example',
      ':5060',
      ': 99999',
      ';branch=z9hG4bK1',
      ';rport',
      ';received=2001:db8::2',
      ';x="q;,"',
      ';',
      ',',
      ', ',
      '=',
      ' ',
      '314159 ',
      'INVITE',
      'a@b',
      '"',
      '>',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), after, (pieces, next) => {
        const v = pieces.join('');
        const { bytes, text, from, to } = inHead(v, next);
        let count: number | undefined;
        assert.equal(
          code(() => (count = checkViaAt(bytes, text, from, to))),
          code(() => parseVia(v)),
          JSON.stringify(v),
        );
        if (count !== undefined) assert.equal(count, parseVia(v).length, JSON.stringify(v));
        let cseq: unknown;
        assert.equal(
          code(() => (cseq = parseCSeqAt(bytes, text, from, to))),
          code(() => parseCSeq(v)),
          JSON.stringify(v),
        );
        if (cseq !== undefined) assert.deepEqual(cseq, parseCSeq(v), JSON.stringify(v));
        assert.equal(isCallIdAt(bytes, from, to), isCallId(v, 0, v.length), JSON.stringify(v));
      }),
      { numRuns: runs(20_000) },
    );
  });

  test('a character from 0x80 on is no delimiter, whatever its low byte', () => {
    for (const c of lookalikes) {
      for (const v of [
        `${c}sip:alice@example.com>;tag=1`,
        `<sip:alice@example.com${c};tag=1`,
        `<sip:alice@example.com>${c}tag=1`,
        `<sip:alice@example.com>;tag${c}1`,
        `"A${c}" <sip:alice@example.com>;tag=1`,
        `<sip:alice@example.com>;tag="${c}"`,
      ]) {
        const tag = plainFromToTag(v);
        let ref: ReturnType<typeof refAddress> | undefined;
        const refCode = code(() => (ref = refAddress('From', v)));
        if (tag === NOT_PLAIN) continue;
        assert.equal(refCode, undefined, `read a tag of ${JSON.stringify(v)}, which the reference refuses`);
        assert.equal(tag, ref!.tag, JSON.stringify(v));
      }
      for (const v of [
        `SIP/2.0/UDP h${c}x:5060`,
        `SIP/2.0/UDP h:5060${c}branch=z9hG4bK1`,
        `SIP/2.0/UDP h;branch${c}z9hG4bK1`,
        `SIP/2.0/UDP h;x="${c}"`,
        `SIP/2.0${c}UDP h`,
      ]) {
        let a: unknown;
        let b: unknown;
        assert.equal(
          code(() => (a = parseVia(v))),
          code(() => (b = refVia(v))),
          JSON.stringify(v),
        );
        assert.deepEqual(a, b, JSON.stringify(v));
      }
      for (const v of [`1${c}INVITE`, `1 INVITE${c}`, `1${c}`]) {
        assert.equal(
          code(() => parseCSeq(v)),
          code(() => refCSeq(v)),
          JSON.stringify(v),
        );
      }
    }
  });

  test('a message whose head is not all ASCII is read over its values: the same verdicts', () => {
    const message = (from: string) =>
      Buffer.from(
        [
          'OPTIONS sip:gw.example.com SIP/2.0',
          'Via: SIP/2.0/UDP 198.51.100.17;branch=z9hG4bK1',
          `From: ${from}`,
          'To: <sip:gw.example.com>',
          'Call-ID: a@b',
          'CSeq: 1 OPTIONS',
          '',
          '',
        ].join('\r\n'),
        'utf8',
      );
    assert.equal(parseMessage(message('"Zoë" <sip:a@example.com>;tag=9'), { datagram: true }).fromTag, '9');
    for (const c of lookalikes) {
      for (const v of [
        `<sip:a@example.com>${c}tag=9`,
        `<sip:a@example.com${c}>;tag=9`,
        `"${c}" <sip:a@b>;tag=9`,
      ]) {
        let m: ReturnType<typeof parseMessage> | undefined;
        let ref: ReturnType<typeof referenceParse> | undefined;
        assert.equal(
          code(() => (m = parseMessage(message(v), { datagram: true }))),
          code(() => (ref = referenceParse(message(v), true))),
          JSON.stringify(v),
        );
        assert.equal(m?.fromTag, ref?.fromTag, JSON.stringify(v));
      }
    }
  });
});

describe('start line and Via: the usual "SIP/2.0" read at once, everything else as before', () => {
  const message = (startLine: string, via: string) =>
    Buffer.from(
      [
        startLine,
        `Via: ${via}`,
        'From: <sip:a@example.com>;tag=1',
        'To: <sip:b@example.com>',
        'Call-ID: c@d',
        'CSeq: 1 INVITE',
        '',
        '',
      ].join('\r\n'),
      'latin1',
    );
  test('request lines and Via sent-protocols: the verdicts and values of the reference parser', () => {
    const lines = [
      'INVITE sip:a@b SIP/2.0',
      'INVITE sip:a@b sip/2.0',
      'INVITE sip:a@b SIP/2.0 ',
      'INVITE sip:a@b SIP/2.0x',
      'INVITE sip:a@b SIP/2.00',
      'INVITE sip:a@b SIP/20.0',
      'INVITE sip:a@b SIP/3.0',
      'INVITE sip:a@b SIP/2.',
      'INVITE sip:a@b SIP/2.0/',
      'INVITE  sip:a@b SIP/2.0',
      'INVITE sip:a@b  SIP/2.0',
      'INV;TE sip:a@b SIP/2.0',
      'INVITE\tsip:a@b SIP/2.0',
      'INVITE sip:a@b',
      'INVITE',
      'SIP/2.0 sip:a@b SIP/2.0',
    ];
    const vias = [
      'SIP/2.0/UDP h;branch=z9hG4bK1',
      'SIP/2.0/ UDP h',
      'SIP/2.0/UDP',
      'SIP/2.0/',
      'SIP/2.0/UDPh',
      'SIP/2.0//UDP h',
      'sip/2.0/udp h',
      'SIP/2.0 /UDP h',
      'SIP/2.00/UDP h',
      'SIP/2.0/UDP h, SIP/2.0/TCP i',
      'SIP/2.0/UDP h,SIP/2.0/',
    ];
    for (const line of lines) {
      for (const via of vias) {
        const bytes = message(line, via);
        let m: ReturnType<typeof parseMessage> | undefined;
        let ref: ReturnType<typeof referenceParse> | undefined;
        const what = JSON.stringify([line, via]);
        assert.equal(
          code(() => (m = parseMessage(bytes, { datagram: true }))),
          code(() => (ref = referenceParse(bytes, true))),
          what,
        );
        if (m?.kind === 'request') {
          assert.deepEqual({ method: m.method, uri: m.uri, version: m.version }, ref!.startLine, what);
          assert.equal(m.topVia, ref!.topVia, what);
        }
      }
    }
  });
});

describe('header names and words over bytes', () => {
  test('knownHeaderName finds exactly the names canonicalHeaderName knows, in any case', () => {
    const letters = fc.constantFrom(
      ..."aAcCdDeEfFiIlLmMnNoOqQrRsStTuUvVwWxX-._!%*+`'~1".split(''),
      'Call-ID',
      'cseq',
      'VIA',
      'Content-',
      'Length',
      'Max-Forwards',
      'from',
    );
    fc.assert(
      fc.property(fc.array(letters, { minLength: 1, maxLength: 4 }), (parts) => {
        const name = parts.join('');
        const bytes = Buffer.from(`${name}: x`, 'latin1');
        const known = knownHeaderName(bytes, 0, name.length);
        // A name it does not find is one canonicalHeaderName keeps as written.
        assert.equal(known ?? name, canonicalHeaderName(name), name);
      }),
      { numRuns: runs(20_000) },
    );
    assert.equal(knownHeaderName(Buffer.from('cALL-iD'), 0, 7), 'Call-ID');
    assert.equal(knownHeaderName(Buffer.from('V'), 0, 1), 'Via');
    assert.equal(knownHeaderName(Buffer.from('Call-IDx'), 0, 8), undefined);
  });

  test('wordAt shares the exact spelling of a word only', () => {
    const text = 'INVITE invite SIP/2.0 sip/2.0 INVITEX SIP/2.1 INVITF';
    const b = Buffer.from(text, 'latin1');
    assert.equal(wordAt(b, text, 0, 6), 'INVITE');
    assert.equal(wordAt(b, text, 7, 13), 'invite');
    assert.equal(wordAt(b, text, 14, 21), 'SIP/2.0');
    assert.equal(wordAt(b, text, 22, 29), 'sip/2.0');
    assert.equal(wordAt(b, text, 30, 37), 'INVITEX');
    assert.equal(wordAt(b, text, 30, 36), 'INVITE');
    assert.equal(wordAt(b, text, 38, 45), 'SIP/2.1');
    assert.equal(wordAt(b, text, 46, 52), 'INVITF');
  });
});
