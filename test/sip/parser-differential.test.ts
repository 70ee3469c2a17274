import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  fromOf,
  parseCallId,
  parseContentLength,
  parseCSeq,
  parseMessage,
  parseVia,
  SipParseError,
  toOf,
  topViaOf,
  type SipMessage,
} from '../../src/sip/index.js';
import { NOT_PLAIN, plainFromToTag } from '../../src/sip/headers/from-to-tag.js';
import { isGenValue } from '../../src/sip/headers/params.js';
import {
  refAddress,
  refCallId,
  refContentLength,
  refCSeq,
  referenceParse,
  refGenValue,
  refVia,
  type RefMessage,
} from './support/reference-parser.js';

/**
 * The one-pass parser against the parser it replaced (support/reference-parser.ts, the former split-and-regex
 * parser and regex header parsers): on the RFC 4475/5118 corpus, on mutations of it and on generated messages
 * and header values, both accept the same inputs, refuse the same ones with the same error code, and read the
 * same start line, headers, body, eager fields and parsed Via/From/To. VOXGATE_FUZZ_RUNS scales the run counts.
 */
const scale = Number(process.env.VOXGATE_FUZZ_RUNS ?? 20_000) / 20_000;
const runs = (n: number) => Math.max(1, Math.round(n * scale));

const dirs = ['rfc4475', 'rfc5118'].map((d) => join(import.meta.dirname, '..', 'fixtures', 'sip', d));
const corpus = dirs.flatMap((d) => readdirSync(d).map((f) => readFileSync(join(d, f))));

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof SipParseError) return err.code;
    throw err;
  }
}

function startLineOf(m: SipMessage): Record<string, string | number> {
  return m.kind === 'request'
    ? { method: m.method, uri: m.uri, version: m.version }
    : { status: m.status, reason: m.reason, version: m.version };
}

/** Asserts that both parsers agree on `bytes` read as a datagram and as a stream message. */
function agree(bytes: Buffer): void {
  for (const datagram of [true, false]) {
    let ref: RefMessage | undefined;
    const refCode = code(() => (ref = referenceParse(bytes, datagram)));
    let m: SipMessage | undefined;
    const newCode = code(() => (m = parseMessage(bytes, { datagram })));
    const what = `${JSON.stringify(bytes.toString('latin1'))} (datagram: ${datagram})`;
    assert.equal(newCode, refCode, `error code for ${what}`);
    if (!m || !ref) continue;
    assert.deepEqual(startLineOf(m), ref.startLine, `start line of ${what}`);
    assert.deepEqual(
      m.headers.map((h) => ({ name: h.name, value: h.value })),
      ref.headers,
      `headers of ${what}`,
    );
    assert.ok(m.body.equals(ref.body) && m.raw!.equals(ref.raw), `body and raw of ${what}`);
    assert.deepEqual(
      [m.callId, m.cseq, m.fromTag, m.toTag, m.topVia],
      [ref.callId, ref.cseq, ref.fromTag, ref.toTag, ref.topVia],
      `eager fields of ${what}`,
    );
    // The first Via header: parsed in full at parse time (viaOf reads every Via, which may be malformed).
    assert.deepEqual(topViaOf(m), ref.vias[0], `top Via of ${what}`);
    assert.deepEqual(parseVia(m.headers.find((h) => h.name === 'Via')!.value), ref.vias, `Via of ${what}`);
    assert.deepEqual(fromOf(m), ref.from, `From of ${what}`);
    assert.deepEqual(toOf(m), ref.to, `To of ${what}`);
  }
}

/** Corpus mutations: byte edits, dropped/duplicated lines, runs of the characters the scanners look for. */
const mutation = fc.record({
  base: fc.nat(corpus.length - 1),
  bytes: fc.array(fc.tuple(fc.constantFrom('set', 'insert', 'delete'), fc.nat(), fc.nat(255)), {
    maxLength: 6,
  }),
  runs: fc.array(
    fc.tuple(
      fc.constantFrom(
        ' ',
        '\t',
        ';',
        ',',
        '"',
        '\\',
        '<',
        '>',
        ':',
        '\r\n',
        '\n',
        '\r\n ',
        '\n\t',
        '\r',
        '@',
      ),
      fc.integer({ min: 1, max: 40 }),
      fc.nat(),
    ),
    { maxLength: 3 },
  ),
  lines: fc.array(fc.tuple(fc.constantFrom('drop', 'dup', 'lf'), fc.nat()), { maxLength: 3 }),
});

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(m: Mutation): Buffer {
  const lines = corpus[m.base]!.toString('latin1').split('\r\n');
  for (const [op, a] of m.lines) {
    const i = a % lines.length;
    if (op === 'drop') lines.splice(i, 1);
    else if (op === 'dup') lines.splice(i, 0, lines[i]!);
    else lines[i] = `${lines[i]}\n`;
  }
  let text = lines.join('\r\n');
  for (const [chars, count, at] of m.runs) {
    const i = at % (text.length + 1);
    text = text.slice(0, i) + chars.repeat(count) + text.slice(i);
  }
  const bytes = [...Buffer.from(text, 'latin1')];
  for (const [op, at, value] of m.bytes) {
    const i = at % (bytes.length + 1);
    if (op === 'set' && i < bytes.length) bytes[i] = value;
    else if (op === 'insert') bytes.splice(i, 0, value);
    else bytes.splice(i, 1);
  }
  return Buffer.from(bytes);
}

/** Pieces of From/To/Contact values: addresses, display names, parameters, and what breaks them. */
const addressPieces = fc.constantFrom(
  '"',
  '"Alice"',
  '"a;tag=q"',
  '\\',
  'Alice',
  'Bob Smith',
  ' ',
  '\t',
  '<',
  '>',
  'sip:',
  'sips:',
  'SIP:',
  'tel:',
  'tel:+1-555',
  'urn:x',
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
  '..',
  '192.0.2.1',
  '[2001:db8::1]',
  ':',
  ':5060',
  ':99999',
  ':65536',
  ':0',
  ';',
  'tag',
  '=',
  ';tag=',
  ';TAG=',
  ';tag',
  'abc123',
  '"q"',
  ';lr',
  ';transport=udp',
  ';x=[::1]',
  ';x=::1',
  ';x=a:b',
  ',',
  '?',
  '?h=v',
  '&',
  '$',
  '+',
  '/',
  '(',
  ')',
  '*',
  "'",
  '!',
  '~',
  '_',
  '#',
  '\u00e9',
  '\u00a0',
  'user:pw',
  ';a=b=c',
  ';=x',
  ';a=',
);
const addressValue = fc.array(addressPieces, { maxLength: 14 }).map((p) => p.join(''));
/** Well-formed addresses, with and without tags, to reach the fast path often. */
const plainAddress = fc
  .tuple(
    fc.constantFrom('', '"Alice Example" ', 'Alice ', '"a;tag=x" ', 'Bob Smith'),
    fc.constantFrom('sip:', 'sips:', 'SIP:'),
    fc.constantFrom('', 'alice@', '+4420@', 'a;b=c@', 'al%41ce@'),
    fc.constantFrom('example.com', 'gw.example.com.', '198.51.100.17', 'a-b.c'),
    fc.constantFrom('', ':5060', ':65535'),
    fc.constantFrom('', ';transport=udp', ';lr', ';tag=inside', ';x=%20'),
    fc.constantFrom('', ';tag=1928301774', ';TAG=a6c85cf', ';tag', ';x=1;tag=2;tag=3', ' ; tag = "q" '),
    fc.boolean(),
  )
  .map(([dn, scheme, user, host, port, uriParams, params, bracket]) => {
    const uri = `${scheme}${user}${host}${port}${uriParams}`;
    return bracket || dn !== '' ? `${dn}<${uri}>${params}` : `${uri}${params}`;
  });

const viaValue = fc
  .array(
    fc.constantFrom(
      'SIP/2.0/UDP ',
      'SIP / 2.0 / TCP',
      'sip/2.0/tls',
      ' ',
      '\t',
      'host.example.com',
      '192.0.2.1',
      '[2001:db8::1]',
      '[::1',
      ':5060',
      ' : 5060',
      ':123456',
      ':65536',
      ';branch=z9hG4bK776',
      ';rport',
      ';rport=5060',
      ';received=',
      ';received=2001:db8::1',
      ';ttl=1',
      ',',
      ', ',
      ';;',
      ';',
      '=',
      '/',
      'x',
    ),
    { maxLength: 10 },
  )
  .map((p) => p.join(''));

const headerNames = fc.constantFrom(
  'Via',
  'v',
  'VIA',
  'From',
  'f',
  'To',
  't',
  'TO',
  'Call-ID',
  'i',
  'call-id',
  'CSeq',
  'cseq',
  'Content-Length',
  'l',
  'Max-Forwards',
  'Contact',
  'm',
  'Content-Type',
  'c',
  'Expires',
  'X-Custom',
  'x',
  'Subject',
  's',
  'Bad Name',
  '',
  'Via\r',
);
const lineEnds = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '\r\n ', '\r\n\t', '\n ', '\r');
/** Messages built line by line: start lines, names, separators, eager-header values, folds and line ends. */
const message = fc
  .tuple(
    fc.constantFrom(
      'INVITE sip:bob@biloxi.example.com SIP/2.0',
      'OPTIONS sip:a@b;x=y SIP/2.0',
      'REGISTER sips:[2001:db8::1] SIP/2.0',
      'INVITE sip:x@y?h=v SIP/2.0',
      'INVITE  sip:x SIP/2.0',
      'BYE sip:x sip/2.0',
      'BYE sip:x SIP/2.1',
      'ACK <sip:x> SIP/2.0',
      'SIP/2.0 200 OK',
      'SIP/2.0 180 ',
      'sip/2.0 486 Busy Here',
      'SIP/2.0 700 Big',
      'SIP/2.0 200',
    ),
    fc.array(
      fc.tuple(
        headerNames,
        fc.constantFrom(': ', ':', ' : ', '\t:\t', ':  ', ' '),
        fc.oneof(
          addressValue,
          plainAddress,
          viaValue,
          fc.constantFrom('1 INVITE', '7 OPTIONS', '314159 INVITE', '1  BYE', '99999999999 INVITE', 'x', ''),
          fc.constantFrom('abc@host', 'a b', '0', '12', '-1', '00000000001', ' 0 '),
        ),
        lineEnds,
      ),
      { maxLength: 12 },
    ),
    fc.constantFrom('\r\n', '\n', '', '\r\n\r\n'),
    fc.constantFrom('', 'v=0\r\n', 'x'),
  )
  .map(([start, lines, end, body]) =>
    Buffer.from(
      `${start}\r\n${lines.map(([n, sep, v, e]) => `${n}${sep}${v}${e}`).join('')}${end}${body}`,
      'latin1',
    ),
  );

/** A message with the given eager header values, the rest well-formed. */
function withHeaders(h: {
  via?: string;
  from?: string;
  to?: string;
  cseq?: string;
  callId?: string;
}): Buffer {
  return Buffer.from(
    [
      'INVITE sip:bob@biloxi.example.com SIP/2.0',
      `Via: ${h.via ?? 'SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1'}`,
      `From: ${h.from ?? '<sip:a@example.com>;tag=1'}`,
      `To: ${h.to ?? '<sip:b@example.com>'}`,
      `Call-ID: ${h.callId ?? 'abc'}`,
      `CSeq: ${h.cseq ?? '1 INVITE'}`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
    'latin1',
  );
}

describe('one-pass parser against the former parser', () => {
  test('the RFC 4475/5118 corpus, each message as it is', () => {
    for (const bytes of corpus) agree(bytes);
  });

  test('mutations of the corpus', () => {
    fc.assert(
      fc.property(mutation, (m) => agree(mutate(m))),
      { numRuns: runs(4000) },
    );
  });

  test('generated messages: names, separators, folding, line ends, eager header values', () => {
    fc.assert(fc.property(message, agree), { numRuns: runs(6000) });
  });

  test('generated From, To, Via, CSeq and Call-ID values in a message', () => {
    const values = fc.oneof(addressValue, plainAddress);
    fc.assert(
      fc.property(values, values, viaValue, (from, to, via) => agree(withHeaders({ from, to, via }))),
      { numRuns: runs(4000) },
    );
  });
});

describe('the eager header scanners against the regular expressions they replace', () => {
  test('plainFromToTag reads only what parseFrom accepts, with its tag', () => {
    fc.assert(
      fc.property(fc.oneof(addressValue, plainAddress), (value) => {
        const tag = plainFromToTag(value);
        let ref: ReturnType<typeof refAddress> | undefined;
        const refCode = code(() => (ref = refAddress('From', value)));
        if (tag === NOT_PLAIN) return;
        assert.equal(refCode, undefined, `read a tag of ${JSON.stringify(value)}, which parseFrom refuses`);
        assert.equal(tag, ref!.tag, JSON.stringify(value));
      }),
      { numRuns: runs(30_000) },
    );
  });

  test('plainFromToTag reads most well-formed addresses itself', () => {
    const sample = fc.sample(plainAddress, { numRuns: 500, seed: 1 });
    const plain = sample.filter((v) => plainFromToTag(v) !== NOT_PLAIN).length;
    assert.ok(plain > 400, `${plain} of 500 read without the full parser`);
  });

  test('parseVia, parseCSeq, parseCallId, parseContentLength and gen-value', () => {
    const same = <T>(value: string, mine: (v: string) => T, ref: (v: string) => T) => {
      let a: T | undefined;
      let b: T | undefined;
      assert.equal(
        code(() => (a = mine(value))),
        code(() => (b = ref(value))),
        JSON.stringify(value),
      );
      assert.deepEqual(a, b, JSON.stringify(value));
    };
    const text = fc
      .array(
        fc.constantFrom('0', '1', '9', ' ', '\t', 'INVITE', 'a', '@', ':', '.', '[', ']', 'f', '\u00e9', '-'),
        {
          maxLength: 14,
        },
      )
      .map((p) => p.join(''));
    fc.assert(
      fc.property(viaValue, text, (via, t) => {
        same(via, parseVia, refVia);
        same(t, parseCSeq, refCSeq);
        same(t, parseCallId, refCallId);
        same(t, parseContentLength, refContentLength);
        same(t, (v) => isGenValue(v, 0, v.length), refGenValue);
      }),
      { numRuns: runs(20_000) },
    );
  });
});
