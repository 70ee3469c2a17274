import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SipParseError } from '../../src/sip/index.js';
import { parseUri } from '../../src/sip/uri/parse-uri.js';
import { refParseUri } from './support/reference-uri.js';

/**
 * The one-pass URI scanner (src/sip/uri/parse-uri.ts) against the regular-expression parser it replaced
 * (support/reference-uri.ts): on generated URIs, well-formed and not, both accept the same ones with the same
 * components and refuse the same ones. VOXGATE_FUZZ_RUNS scales the run counts.
 */
const scale = Number(process.env.VOXGATE_FUZZ_RUNS ?? 20_000) / 20_000;
const runs = (n: number) => Math.max(1, Math.round(n * scale));

function outcome(parse: (text: string) => unknown, text: string): unknown {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof SipParseError) return { error: err.code };
    throw err;
  }
}

function agree(text: string): void {
  assert.deepEqual(outcome(parseUri, text), outcome(refParseUri, text), `URI ${JSON.stringify(text)}`);
}

/** §25.1's pieces of a URI and near misses of each, in any order. */
const pieces = fc.constantFrom(
  'sip:',
  'sips:',
  'SIP:',
  'sIpS:',
  'sipx:',
  'tel:',
  'mailto:',
  'http://',
  '1x:',
  ':',
  'alice',
  '+4420',
  '@',
  'alice:secret@',
  'al%41ce',
  '%4',
  '%zz',
  'example.com',
  'gw.example.com.',
  'a-b.c',
  '-a',
  'a-',
  'a..b',
  '198.51.100.17',
  '[2001:db8::1]',
  '[::1',
  '[]',
  '[1.2]',
  ':5060',
  ':65535',
  ':65536',
  ':123456',
  ':',
  ';transport=udp',
  ';lr',
  ';',
  ';;',
  ';=x',
  ';a=',
  ';a=b=c',
  ';maddr=[::1]',
  '?',
  '?subject=hi',
  '&',
  '&to=a%20b',
  '?=x',
  '=',
  '&&',
  '?a=b?c',
  ' ',
  '\t',
  '"',
  '<',
  '\u00e9',
  '_',
  '#',
  '*',
);
const anyUri = fc.array(pieces, { maxLength: 12 }).map((p) => p.join(''));
/** Mostly well-formed sip/sips/tel URIs, so that both parsers' accepting paths are compared too. */
const wellFormed = fc
  .tuple(
    fc.constantFrom('sip:', 'sips:', 'SIP:', 'tel:'),
    fc.constantFrom(
      '',
      'alice@',
      '+4420@',
      'a;b=c@',
      'al%41ce@',
      'bob:pw@',
      'bob:@',
      'a?b=c@',
      '+1-555-0100',
    ),
    fc.constantFrom('example.com', 'gw.example.com.', '198.51.100.17', '[2001:db8::1]', 'h', ''),
    fc.constantFrom('', ':5060', ':0', ':65535', ':099999', ':012345'),
    fc.constantFrom('', ';transport=udp', ';lr', ';x=%20', ';a;b;c=d', ';phone-context=+44'),
    fc.constantFrom('', '?subject=hi', '?a=b&c=', '?h=%41&x=[1]'),
  )
  .map((parts) => parts.join(''));

describe('URI parser against the regular-expression parser it replaced (RFC 3261 §25.1, RFC 3966)', () => {
  test('generated URIs from pieces: same components or same error', () => {
    fc.assert(
      fc.property(anyUri, (text) => agree(text)),
      { numRuns: runs(20_000) },
    );
  });

  test('generated well-formed URIs: same components', () => {
    fc.assert(
      fc.property(wellFormed, (text) => agree(text)),
      { numRuns: runs(5_000) },
    );
  });

  test('arbitrary strings: same outcome', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => agree(`sip:${text}`)),
      {
        numRuns: runs(5_000),
      },
    );
  });

  test('the examples of §19.1.3 and RFC 5118 parse to their components', () => {
    for (const text of [
      'sip:alice@atlanta.com',
      'sip:alice:secretword@atlanta.com;transport=tcp',
      'sips:alice@atlanta.com?subject=project%20x&priority=urgent',
      'sip:+1-212-555-1212:1234@gateway.com;user=phone',
      'sips:1212@gateway.com',
      'sip:alice@192.0.2.4',
      'sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com',
      'sip:alice;day=tuesday@atlanta.com',
      'sip:[2001:db8::10]:5070',
      'sip:user@[2001:db8:::192.0.2.1]',
      'tel:+358-555-1234567;postd=pp22',
    ]) {
      agree(text);
      assert.ok(!('error' in (outcome(parseUri, text) as object)), text);
    }
  });
});
