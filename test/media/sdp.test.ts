import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  SdpParseError,
  formatConnectionLine,
  formatMediaLine,
  parseConnectionLine,
  parseMediaLine,
  parseSdp,
  sdpAttributes,
  serializeSdp,
} from '../../src/media/index.js';

const OFFER = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 198.51.100.1',
  's= ',
  'c=IN IP4 198.51.100.1',
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=sendrecv',
  'm=video 51372/2 RTP/AVP 99',
  'c=IN IP6 2001:db8::1',
  'a=rtpmap:99 h263-1998/90000',
  '',
].join('\r\n');

describe('SDP parse and serialize', () => {
  test('splits session lines and media sections', () => {
    const sdp = parseSdp(OFFER);
    assert.deepEqual(
      sdp.session.map((l) => l.type),
      ['v', 'o', 's', 'c', 't'],
    );
    assert.equal(sdp.media.length, 2);
    assert.deepEqual(sdp.media[0]?.lines[0], {
      type: 'm',
      value: 'audio 49170 RTP/AVP 0 8 101',
      eol: '\r\n',
    });
    assert.equal(sdp.session[2]?.value, ' ', 'values are kept verbatim, spaces too');
    assert.deepEqual(sdpAttributes(sdp.media[0]?.lines ?? []), [
      { name: 'rtpmap', value: '0 PCMU/8000' },
      { name: 'rtpmap', value: '101 telephone-event/8000' },
      { name: 'fmtp', value: '101 0-15' },
      { name: 'sendrecv', value: undefined },
    ]);
  });

  test('unchanged SDP serializes to the same text: CRLF, bare LF, mixed, no final EOL, trailing blanks', () => {
    for (const text of [
      OFFER,
      OFFER.replaceAll('\r\n', '\n'),
      OFFER.replace('\r\nt=', '\nt='),
      OFFER.slice(0, -2),
      `${OFFER}\r\n\r\n`,
      'v=0',
      'v=0\r\ns=ünïcödé ☎\r\n',
    ]) {
      assert.equal(serializeSdp(parseSdp(text)), text, JSON.stringify(text.slice(-30)));
    }
  });

  test('property: any well-formed SDP round-trips exactly', () => {
    const line = fc
      .tuple(
        fc.constantFrom(...'abcekimorstuz'),
        fc.string({ unit: 'binary', maxLength: 30 }).filter((s) => !/[\r\n]/.test(s)),
        fc.constantFrom('\r\n', '\n'),
      )
      .map(([t, v, eol]) => `${t}=${v}${eol}`);
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.boolean(), (lines, lastEol) => {
        let text = `v=0\r\n${lines.join('')}`;
        if (!lastEol) text = text.replace(/\r?\n$/, '');
        assert.equal(serializeSdp(parseSdp(text)), text);
      }),
      { numRuns: 1000 },
    );
  });

  test('changing one line changes only that line', () => {
    const sdp = parseSdp(OFFER);
    const m = sdp.media[0]!.lines[0]!;
    m.value = formatMediaLine({ ...parseMediaLine(m.value), port: 40000 });
    assert.equal(serializeSdp(sdp), OFFER.replace('m=audio 49170', 'm=audio 40000'));
  });

  test('malformed SDP is SdpParseError with a code and line number', () => {
    const cases: [string, string, number][] = [
      ['', 'SDP_VERSION', 0],
      ['v=1\r\n', 'SDP_VERSION', 1],
      ['o=x\r\nv=0\r\n', 'SDP_VERSION', 1],
      ['v=0\r\n\r\ns=x\r\n', 'SDP_SYNTAX', 2],
      ['v=0\r\nS=x\r\n', 'SDP_SYNTAX', 2],
      ['v=0\r\ns =x\r\n', 'SDP_SYNTAX', 2],
      ['v=0\r\nsx\r\n', 'SDP_SYNTAX', 2],
      ['v=0\r\ns=a\rb\r\n', 'SDP_SYNTAX', 2],
      [`v=0\r\ns=${'x'.repeat(70_000)}`, 'SDP_SYNTAX', 0],
    ];
    for (const [text, code, line] of cases) {
      assert.throws(
        () => parseSdp(text),
        (err: unknown) => err instanceof SdpParseError && err.code === code && err.line === line,
        JSON.stringify(text.slice(0, 30)),
      );
    }
  });
});

describe('SDP m= and c= lines', () => {
  test('m= lines parse and format back', () => {
    assert.deepEqual(parseMediaLine('audio 49170 RTP/AVP 0 8 101'), {
      media: 'audio',
      port: 49170,
      proto: 'RTP/AVP',
      formats: ['0', '8', '101'],
    });
    const video = parseMediaLine('video 51372/2 RTP/AVP 99');
    assert.equal(video.portCount, 2);
    assert.equal(formatMediaLine(video), 'video 51372/2 RTP/AVP 99');
    for (const bad of [
      'audio',
      'audio 49170 RTP/AVP',
      'audio x RTP/AVP 0',
      'audio 70000 RTP/AVP 0',
      'audio  1 RTP/AVP 0',
    ]) {
      assert.throws(
        () => parseMediaLine(bad),
        (err: unknown) => err instanceof SdpParseError && err.code === 'SDP_MEDIA_LINE',
        bad,
      );
    }
  });

  test('c= lines parse and format back', () => {
    const c = parseConnectionLine('IN IP6 2001:db8::1');
    assert.deepEqual(c, { netType: 'IN', addrType: 'IP6', address: '2001:db8::1' });
    assert.equal(formatConnectionLine(c), 'IN IP6 2001:db8::1');
    assert.throws(() => parseConnectionLine('IN IP4'), SdpParseError);
    assert.throws(() => parseConnectionLine('IN IP4 1.2.3.4 extra'), SdpParseError);
  });
});
