// parseAuthHeader scans the text once; this pins it to the regular-expression parser it replaced (kept below as
// the reference) on the credentials and challenges phones send, on malformed ones, and on random text.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAuthHeader } from '../../src/sip/index.js';

function reference(value: string) {
  const m = /^\s*([A-Za-z0-9!%*_+`'~.-]+)\s+(.*)$/s.exec(value);
  if (!m?.[1]) return undefined;
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9!%*_+`'~.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*(,|$)/gy;
  const rest = m[2] ?? '';
  let consumed = 0;
  for (let p = re.exec(rest); p; p = re.exec(rest)) {
    const quoted = p[2];
    params[p[1]!.toLowerCase()] =
      quoted === undefined ? p[3]! : quoted.includes('\\') ? quoted.replace(/\\(.)/g, '$1') : quoted;
    consumed = re.lastIndex;
    if (p[4] === '') break;
  }
  if (consumed !== rest.length) return undefined;
  return { scheme: m[1], params };
}

const cases = [
  'Digest username="u1", realm="register.example", nonce="mnd3k2.Zm9vYmFy.abc", uri="sip:register.example", response="0123456789abcdef0123456789abcdef", algorithm=MD5, cnonce="xyz", qop=auth, nc=00000001, opaque="op"',
  'Digest realm="acme.example", nonce="n", opaque="o", algorithm=SHA-256, qop="auth", stale=TRUE',
  'Digest realm="a\\"b\\\\c", nonce="n"',
  '  Digest\t\r\n username = "alice" ,realm=x  ',
  'Digest a=b,',
  'Digest a=b, ',
  'Digest a=b,,c=d',
  'Digest ',
  'Digest',
  'Digest,a=b',
  '@Digest a=b',
  'Digest a="unterminated',
  'Digest a="x"y',
  'Digest a=b"c',
  'Digest a="line\\\nbreak"',
  'Digest a="nl\ninside"',
  'Digest a=',
  'Digest =b',
  'Digest A=1, a=2',
  'Digest a=\u00a0b',
  'Digest\u00a0a=b',
  'Digest\ufeffa=b\u3000',
  'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==',
  'Digest a="x\\',
  'Digest __proto__=x, constructor=y',
  'Digest a = "" , b=""',
];

describe('parseAuthHeader', () => {
  test('same result as the regular-expression parser on well-formed and malformed headers', () => {
    for (const value of cases)
      assert.deepEqual(parseAuthHeader(value), reference(value), JSON.stringify(value));
  });

  test('same result on random text made of the characters that matter', () => {
    const alphabet = [
      'Digest',
      ' ',
      '\t',
      '\n',
      '\u00a0',
      '\u2028',
      '=',
      ',',
      '"',
      '\\',
      'a',
      'Nc',
      '0',
      '@',
      ';',
      'é',
    ];
    let seed = 19;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let run = 0; run < 20_000; run++) {
      let value = next() < 0.8 ? 'Digest ' : '';
      const length = Math.floor(next() * 24);
      for (let i = 0; i < length; i++) value += alphabet[Math.floor(next() * alphabet.length)];
      assert.deepEqual(parseAuthHeader(value), reference(value), JSON.stringify(value));
    }
  });

  test('same result on random parameter lists, some of them altered', () => {
    const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
    const space = ['', '', ' ', '\t', '\u00a0', '\r\n '];
    const names = ['a', 'Nc', 'realm', 'x-y', '@'];
    const values = ['x', '00000001', '"q"', '"a\\"b"', '"\\\\"', '""', '"é ,="', '"\\\n"', 'a"b', ''];
    const separators = [',', ', ', ' ,', ',,', '', ';'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let parsed = 0;
    for (let run = 0; run < 20_000; run++) {
      const pairs = Array.from(
        { length: 1 + Math.floor(next() * 4) },
        () => `${pick(space)}${pick(names)}${pick(space)}=${pick(space)}${pick(values)}${pick(space)}`,
      );
      let value = `Digest${pick([' ', '  ', '\t', ''])}${pairs.join(pick(separators))}${pick(['', ',', ' '])}`;
      if (next() < 0.2) {
        const at = Math.floor(next() * value.length);
        value = value.slice(0, at) + pick(['"', '\\', ',', '=', ' ', '\n']) + value.slice(at + 1);
      }
      const result = parseAuthHeader(value);
      assert.deepEqual(result, reference(value), JSON.stringify(value));
      if (result && Object.keys(result.params).length > 0) parsed += 1;
    }
    assert.ok(parsed > 2_000, `${parsed} lists parsed`);
  });
});
