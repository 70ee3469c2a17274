import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BencodeError,
  NgMessageError,
  formatNgMessage,
  isValidCookie,
  parseNgMessage,
  peekCookie,
} from '../../src/media/index.js';

describe('ng message framing', () => {
  test('parses `<cookie> <bencoded dictionary>` and formats it back byte for byte', () => {
    const wire = Buffer.from('5323_1 d7:command4:pinge');
    const message = parseNgMessage(wire);
    assert.deepEqual(message, { cookie: '5323_1', body: { command: 'ping' } });
    assert.deepEqual(formatNgMessage(message.cookie, message.body), wire);
  });

  test('the cookie is everything before the first space; the body may contain spaces', () => {
    const { cookie, body } = parseNgMessage(Buffer.from('c-1 d3:sdp5:a b ce'));
    assert.equal(cookie, 'c-1');
    assert.deepEqual(body, { sdp: 'a b c' });
  });

  test('bad framing is NgMessageError; a bad body is BencodeError', () => {
    const framing: [string, string][] = [
      ['', 'NG_BAD_FRAMING'],
      ['d7:command4:pinge', 'NG_BAD_FRAMING'],
      [' d7:command4:pinge', 'NG_BAD_FRAMING'],
      ['co\x01kie d7:command4:pinge', 'NG_BAD_FRAMING'],
      [`${'c'.repeat(129)} de`, 'NG_BAD_FRAMING'],
      ['k li1ee', 'NG_NOT_A_DICTIONARY'],
      ['k 4:ping', 'NG_NOT_A_DICTIONARY'],
      ['k i1e', 'NG_NOT_A_DICTIONARY'],
    ];
    for (const [wire, code] of framing) {
      assert.throws(
        () => parseNgMessage(Buffer.from(wire, 'latin1')),
        (err: unknown) => err instanceof NgMessageError && err.code === code,
        JSON.stringify(wire),
      );
    }
    for (const wire of ['k ', 'k d7:command4:ping', 'k de ', 'k  de']) {
      assert.throws(() => parseNgMessage(Buffer.from(wire)), BencodeError, JSON.stringify(wire));
    }
  });

  test('peekCookie reads the cookie of an unreadable body, and nothing from garbage', () => {
    assert.equal(peekCookie(Buffer.from('abc xyz')), 'abc');
    assert.equal(peekCookie(Buffer.from('abc')), undefined);
    assert.equal(peekCookie(Buffer.from(' abc')), undefined);
    assert.equal(peekCookie(Buffer.from([0x80, 0x20, 0x64, 0x65])), undefined);
    assert.equal(peekCookie(Buffer.from(`${'c'.repeat(128)} de`)), 'c'.repeat(128));
    assert.equal(peekCookie(Buffer.from(`${'c'.repeat(129)} de`)), undefined);
  });

  test('formatNgMessage refuses cookies that could not be read back', () => {
    for (const cookie of ['', 'a b', 'tab\there', 'é', 'x'.repeat(129)]) {
      assert.equal(isValidCookie(cookie), false, cookie);
      assert.throws(() => formatNgMessage(cookie, { result: 'ok' }), NgMessageError, cookie);
    }
  });
});
