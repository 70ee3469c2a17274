// The STUN codec (src/media/stun) against the test vectors of RFC 5769 §2.1-2.3 and malformed inputs: every
// error is a typed result, never an exception.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import {
  ATTR,
  BINDING,
  addFingerprint,
  addMessageIntegrity,
  attribute,
  bindingError,
  bindingRequest,
  bindingSuccess,
  crc32,
  decodeErrorCode,
  decodeXorMappedAddress,
  encodeXorMappedAddress,
  ipBytes,
  ipText,
  parseStun,
  readBindingRequest,
  serializeStun,
  shortTermKey,
  verifyFingerprint,
  verifyMessageIntegrity,
  type StunMessage,
} from '../../src/media/stun/index.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** RFC 5769 §2.1: software "STUN test client", username "evtj:h6vY", password "VOkJxbRl1RmTxUk/WvJxBt". */
const SAMPLE_REQUEST = hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff
  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`);

/** RFC 5769 §2.2: software "test vector", mapped address 192.0.2.1 port 32853. */
const SAMPLE_IPV4_RESPONSE = hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`);

/** RFC 5769 §2.3: mapped address 2001:db8:1234:5678:11:2233:4455:6677 port 32853. */
const SAMPLE_IPV6_RESPONSE = hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`);

const KEY = shortTermKey('VOkJxbRl1RmTxUk/WvJxBt');
const TID = hex('b7e7a701bc34d686fa87dfae');

function parsed(packet: Buffer): StunMessage {
  const r = parseStun(packet);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.value;
}

describe('STUN codec: RFC 5769 test vectors', () => {
  test('§2.1 sample request: header, attributes, integrity with the password, fingerprint', () => {
    const m = parsed(SAMPLE_REQUEST);
    assert.equal(m.method, BINDING);
    assert.equal(m.class, 'request');
    assert.deepEqual(m.transactionId, TID);
    assert.deepEqual(
      m.attributes.map((a) => a.type),
      [
        ATTR.SOFTWARE,
        ATTR.PRIORITY,
        ATTR.ICE_CONTROLLED,
        ATTR.USERNAME,
        ATTR.MESSAGE_INTEGRITY,
        ATTR.FINGERPRINT,
      ],
    );
    assert.equal(attribute(m, ATTR.SOFTWARE)!.value.toString(), 'STUN test client');
    assert.ok(verifyMessageIntegrity(m, KEY).ok);
    assert.ok(verifyFingerprint(m).ok);
    const r = readBindingRequest(m);
    assert.ok(r.ok);
    assert.equal(r.value.username, 'evtj:h6vY');
    assert.equal(r.value.priority, 0x6e0001ff);
    assert.equal(r.value.controlled, 0x932ff9b151263b36n);
    assert.equal(r.value.controlling, undefined);
    assert.equal(r.value.useCandidate, false);
    assert.ok(r.value.hasIntegrity);
    assert.deepEqual(r.value.unknown, []);
  });

  test('§2.2 IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853, integrity, fingerprint', () => {
    const m = parsed(SAMPLE_IPV4_RESPONSE);
    assert.equal(m.class, 'success');
    const mapped = decodeXorMappedAddress(attribute(m, ATTR.XOR_MAPPED_ADDRESS)!.value, m.transactionId);
    assert.deepEqual(mapped, { ok: true, value: { family: 'IPv4', address: '192.0.2.1', port: 32853 } });
    assert.ok(verifyMessageIntegrity(m, KEY).ok);
    assert.ok(verifyFingerprint(m).ok);
  });

  test('§2.3 IPv6 response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853', () => {
    const m = parsed(SAMPLE_IPV6_RESPONSE);
    const mapped = decodeXorMappedAddress(attribute(m, ATTR.XOR_MAPPED_ADDRESS)!.value, m.transactionId);
    assert.deepEqual(mapped, {
      ok: true,
      value: { family: 'IPv6', address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 },
    });
    assert.ok(verifyMessageIntegrity(m, KEY).ok);
    assert.ok(verifyFingerprint(m).ok);
  });

  test('the serializer rebuilds the three vectors byte for byte', () => {
    // The vectors pad SOFTWARE and USERNAME with spaces (RFC 5769 §2: padding is any value): the same
    // padding is put in the values given to the serializer, and integrity and fingerprint are computed anew.
    const rebuild = (vector: Buffer) => {
      const m = parsed(vector);
      const body = m.attributes.filter(
        (a) => a.type !== ATTR.MESSAGE_INTEGRITY && a.type !== ATTR.FINGERPRINT,
      );
      const head = serializeStun({
        method: m.method,
        class: m.class,
        transactionId: m.transactionId,
        attributes: body.map((a) => ({ type: a.type, value: a.value })),
      });
      // Put the vector's padding bytes back where the serializer wrote zeros.
      const mi = attribute(m, ATTR.MESSAGE_INTEGRITY)!.offset;
      vector.copy(head, 20, 20, mi);
      return addFingerprint(addMessageIntegrity(head, KEY));
    };
    assert.deepEqual(rebuild(SAMPLE_REQUEST), SAMPLE_REQUEST);
    assert.deepEqual(rebuild(SAMPLE_IPV4_RESPONSE), SAMPLE_IPV4_RESPONSE);
    assert.deepEqual(rebuild(SAMPLE_IPV6_RESPONSE), SAMPLE_IPV6_RESPONSE);
  });

  test('XOR-MAPPED-ADDRESS encodes the vectors values', () => {
    assert.deepEqual(encodeXorMappedAddress('192.0.2.1', 32853, TID), hex('0001a147e112a643'));
    assert.deepEqual(
      encodeXorMappedAddress('2001:db8:1234:5678:11:2233:4455:6677', 32853, TID),
      hex('0002a1470113a9faa5d3f179bc25f4b5bed2b9d9'),
    );
  });

  test('a wrong password fails the integrity check; a flipped bit fails both checks', () => {
    const m = parsed(SAMPLE_REQUEST);
    const wrong = verifyMessageIntegrity(m, shortTermKey('VOkJxbRl1RmTxUk/WvJxBT'));
    assert.deepEqual(wrong.ok ? undefined : wrong.error.code, 'bad-integrity');
    const flipped = Buffer.from(SAMPLE_REQUEST);
    flipped[40]! ^= 1; // inside PRIORITY
    const f = parsed(flipped);
    const mi = verifyMessageIntegrity(f, KEY);
    const fp = verifyFingerprint(f);
    assert.equal(mi.ok ? '' : mi.error.code, 'bad-integrity');
    assert.equal(fp.ok ? '' : fp.error.code, 'bad-fingerprint');
    const r = readBindingRequest(f);
    assert.equal(r.ok ? '' : r.error.code, 'bad-fingerprint');
  });

  test('CRC-32 agrees with zlib (an independent implementation) when Node has it', (t) => {
    const zcrc = (zlib as unknown as { crc32?: (data: Buffer) => number }).crc32;
    if (!zcrc) return t.skip('zlib.crc32 needs Node 20.15');
    for (const data of [Buffer.alloc(0), Buffer.from('123456789'), randomBytes(1500), SAMPLE_REQUEST]) {
      assert.equal(crc32(data), zcrc(data));
    }
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  });
});

describe('STUN codec: building and reading ICE messages', () => {
  test('a connectivity check and its success response round-trip; the HMAC is the plain HMAC-SHA1', () => {
    const key = shortTermKey('relay-password-of-24-chars');
    const tid = randomBytes(12);
    const req = bindingRequest({
      transactionId: tid,
      username: 'relayufr:peerufr',
      key,
      priority: 1853824767,
      useCandidate: true,
      controlling: 0x0102030405060708n,
    })!;
    const m = parsed(req);
    assert.ok(verifyMessageIntegrity(m, key).ok);
    assert.ok(verifyFingerprint(m).ok);
    const r = readBindingRequest(m);
    assert.ok(r.ok);
    assert.deepEqual(
      { ...r.value, transactionId: undefined },
      {
        transactionId: undefined,
        username: 'relayufr:peerufr',
        priority: 1853824767,
        useCandidate: true,
        controlling: 0x0102030405060708n,
        hasIntegrity: true,
        unknown: [],
      },
    );
    // Independent check of MESSAGE-INTEGRITY: HMAC-SHA1 over the message up to it, length covering it.
    const miAt = attribute(m, ATTR.MESSAGE_INTEGRITY)!.offset;
    const covered = Buffer.from(req.subarray(0, miAt));
    covered.writeUInt16BE(miAt + 24 - 20, 2);
    assert.deepEqual(createHmac('sha1', key).update(covered).digest(), req.subarray(miAt + 4, miAt + 24));

    for (const source of [
      { address: '198.51.100.7', port: 5004 },
      { address: '2001:db8::7', port: 65535 },
      { address: '::ffff:192.0.2.1', port: 1 },
    ]) {
      const res = parsed(bindingSuccess(tid, source, key)!);
      assert.equal(res.class, 'success');
      assert.deepEqual(res.transactionId, tid);
      assert.deepEqual(
        res.attributes.map((a) => a.type),
        [ATTR.XOR_MAPPED_ADDRESS, ATTR.MESSAGE_INTEGRITY, ATTR.FINGERPRINT],
      );
      const mapped = decodeXorMappedAddress(attribute(res, ATTR.XOR_MAPPED_ADDRESS)!.value, tid);
      assert.ok(mapped.ok);
      assert.equal(mapped.value.port, source.port);
      assert.deepEqual(ipBytes(mapped.value.address), ipBytes(source.address));
      assert.ok(verifyMessageIntegrity(res, key).ok);
      assert.ok(verifyFingerprint(res).ok);
    }
    assert.equal(bindingSuccess(tid, { address: 'not-an-ip', port: 1 }, key), undefined);
  });

  test('error responses: 401 without MESSAGE-INTEGRITY, 420 with UNKNOWN-ATTRIBUTES', () => {
    const tid = randomBytes(12);
    const e401 = parsed(bindingError(tid, 401));
    assert.equal(e401.class, 'error');
    assert.deepEqual(decodeErrorCode(attribute(e401, ATTR.ERROR_CODE)!.value), {
      ok: true,
      value: { code: 401, reason: 'Unauthorized' },
    });
    assert.equal(attribute(e401, ATTR.MESSAGE_INTEGRITY), undefined);
    assert.ok(verifyFingerprint(e401).ok);
    const e420 = parsed(bindingError(tid, 420, { key: KEY, unknown: [0x7777] }));
    assert.deepEqual(attribute(e420, ATTR.UNKNOWN_ATTRIBUTES)!.value, hex('7777'));
    assert.ok(verifyMessageIntegrity(e420, KEY).ok);
  });

  test('an unknown comprehension-required attribute is reported; optional ones and those after MI are not', () => {
    const head = serializeStun({
      method: BINDING,
      class: 'request',
      transactionId: TID,
      attributes: [
        { type: ATTR.USERNAME, value: Buffer.from('a:b') },
        { type: 0x7001, value: Buffer.from('x') },
        { type: 0xc001, value: Buffer.from('y') },
      ],
    });
    const withMi = addMessageIntegrity(head, KEY);
    // An attribute after MESSAGE-INTEGRITY (not FINGERPRINT) is ignored (RFC 8489 §14.5).
    const after = serializeStun({
      method: BINDING,
      class: 'request',
      transactionId: TID,
      attributes: [{ type: 0x7002, value: Buffer.alloc(0) }],
    }).subarray(20);
    const packet = Buffer.concat([withMi, after]);
    packet.writeUInt16BE(packet.length - 20, 2);
    const r = readBindingRequest(parsed(packet));
    assert.ok(r.ok);
    assert.deepEqual(r.value.unknown, [0x7001]);
  });

  test('IPv6 text forms', () => {
    assert.equal(ipText(ipBytes('2001:DB8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
    assert.equal(ipText(ipBytes('::')!), '::');
    assert.equal(ipText(ipBytes('::1')!), '::1');
    assert.equal(ipText(ipBytes('fe80::')!), 'fe80::');
    assert.equal(ipText(ipBytes('::ffff:192.0.2.1')!), '::ffff:c000:201');
    assert.equal(ipText(ipBytes('1:0:2:0:3:0:4:0')!), '1:0:2:0:3:0:4:0');
    assert.equal(ipBytes('fe80::1%eth0'), undefined);
    assert.equal(ipBytes('300.1.1.1'), undefined);
  });
});

describe('STUN codec: malformed input is a typed error, never an exception', () => {
  const codeOf = (packet: Buffer) => {
    const r = parseStun(packet);
    return r.ok ? 'ok' : r.error.code;
  };

  test('each kind of damage', () => {
    assert.equal(codeOf(Buffer.alloc(0)), 'too-short');
    assert.equal(codeOf(SAMPLE_REQUEST.subarray(0, 19)), 'too-short');
    const rtp = Buffer.from(SAMPLE_REQUEST);
    rtp[0] = 0x80;
    assert.equal(codeOf(rtp), 'not-stun');
    const cookie = Buffer.from(SAMPLE_REQUEST);
    cookie[4] = 0;
    assert.equal(codeOf(cookie), 'bad-cookie');
    const odd = Buffer.from(SAMPLE_REQUEST);
    odd.writeUInt16BE(0x57, 2);
    assert.equal(codeOf(odd), 'bad-length');
    assert.equal(codeOf(SAMPLE_REQUEST.subarray(0, 104)), 'bad-length');
    assert.equal(codeOf(Buffer.concat([SAMPLE_REQUEST, Buffer.alloc(4)])), 'bad-length');
    const overrun = Buffer.from(SAMPLE_REQUEST);
    overrun.writeUInt16BE(0x0100, 22); // SOFTWARE claims 256 bytes
    assert.equal(codeOf(overrun), 'truncated-attribute');
    const afterFp = Buffer.concat([SAMPLE_REQUEST, hex('80220000')]);
    afterFp.writeUInt16BE(afterFp.length - 20, 2);
    assert.equal(codeOf(afterFp), 'attribute-after-fingerprint');
  });

  test('bad attribute values', () => {
    const message = (type: number, value: Buffer) =>
      parsed(
        serializeStun({
          method: BINDING,
          class: 'request',
          transactionId: TID,
          attributes: [{ type, value }],
        }),
      );
    const read = (type: number, value: Buffer) => {
      const r = readBindingRequest(message(type, value));
      return r.ok ? 'ok' : r.error.code;
    };
    assert.equal(read(ATTR.PRIORITY, Buffer.alloc(3)), 'bad-attribute-value');
    assert.equal(read(ATTR.USE_CANDIDATE, Buffer.alloc(1)), 'bad-attribute-value');
    assert.equal(read(ATTR.ICE_CONTROLLING, Buffer.alloc(4)), 'bad-attribute-value');
    assert.equal(read(ATTR.USERNAME, Buffer.from([0xff, 0xfe])), 'bad-attribute-value');
    assert.equal(read(ATTR.USERNAME, Buffer.alloc(513, 0x61)), 'bad-attribute-value');
    const mi = verifyMessageIntegrity(message(ATTR.MESSAGE_INTEGRITY, Buffer.alloc(19)), KEY);
    assert.equal(mi.ok ? '' : mi.error.code, 'bad-attribute-value');
    const none = verifyMessageIntegrity(message(ATTR.SOFTWARE, Buffer.alloc(0)), KEY);
    assert.equal(none.ok ? '' : none.error.code, 'missing-attribute');
    const fp = verifyFingerprint(message(ATTR.FINGERPRINT, Buffer.alloc(3)));
    assert.equal(fp.ok ? '' : fp.error.code, 'bad-attribute-value');
    for (const bad of [hex('0001'), hex('00030000'), hex('0001000001020304ff'), hex('0002000001020304')]) {
      const r = decodeXorMappedAddress(bad, TID);
      assert.equal(r.ok ? '' : r.error.code, 'bad-attribute-value');
    }
    for (const bad of [hex('000002'), hex('00000200'), hex('00000364')]) {
      const r = decodeErrorCode(bad);
      assert.equal(r.ok ? '' : r.error.code, 'bad-attribute-value');
    }
    const response = readBindingRequest(parsed(SAMPLE_IPV4_RESPONSE));
    assert.equal(response.ok ? '' : response.error.code, 'not-stun');
  });

  test('random and mutated datagrams never throw', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 5000; i++) {
      const base = [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE][i % 3]!;
      const packet =
        i % 4 === 0
          ? randomBytes(Math.floor(rand() * 120))
          : Buffer.from(base.subarray(0, 20 + Math.floor(rand() * base.length)));
      for (let k = 0; k < 3; k++) packet[Math.floor(rand() * packet.length)] = Math.floor(rand() * 256);
      const r = parseStun(packet);
      if (!r.ok) continue;
      verifyMessageIntegrity(r.value, KEY);
      verifyFingerprint(r.value);
      readBindingRequest(r.value);
      for (const a of r.value.attributes) {
        if (a.type === ATTR.XOR_MAPPED_ADDRESS) decodeXorMappedAddress(a.value, r.value.transactionId);
        if (a.type === ATTR.ERROR_CODE) decodeErrorCode(a.value);
      }
    }
  });
});
