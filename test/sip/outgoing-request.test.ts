import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildDialogRequest,
  buildRequest,
  dialogRequest,
  outgoingRequest,
  parseMessage,
  serializeMessage,
  type Dialog,
  type SipHeader,
  type SipRequest,
} from '../../src/sip/index.js';

/** The fields a SipRequest is read by, as plain data (header objects compared by name and value). */
function fields(r: SipRequest) {
  return {
    kind: r.kind,
    method: r.method,
    uri: r.uri,
    version: r.version,
    headers: r.headers.map((h) => ({ name: h.name, value: h.value })),
    body: r.body.toString('latin1'),
    callId: r.callId,
    cseq: r.cseq,
    fromTag: r.fromTag,
    toTag: r.toTag,
    topVia: r.topVia,
  };
}

function parsed(bytes: Buffer): SipRequest {
  const message = parseMessage(bytes, { datagram: false });
  assert.equal(message.kind, 'request');
  return message;
}

const SDP = Buffer.from(
  'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n',
);

/** A B2BUA's INVITE towards a callee, as CalleeLeg builds it, with `extra` headers. */
function invite(extra: SipHeader[] = []): SipHeader[] {
  return [
    { name: 'Via', value: 'SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-abc123;rport' },
    { name: 'Max-Forwards', value: '69' },
    { name: 'From', value: '"Alice" <sip:alice@example.com>;tag=f00d' },
    { name: 'To', value: '<sip:+442079460000@example.com>' },
    { name: 'Call-ID', value: 'b2b-1234567890abcdef@192.0.2.10' },
    { name: 'CSeq', value: '1 INVITE' },
    { name: 'Contact', value: '<sip:192.0.2.10:5060>' },
    ...extra,
    { name: 'Content-Type', value: 'application/sdp' },
  ];
}

describe('outgoingRequest: the request its bytes parse as, without parsing them', () => {
  const cases: { name: string; method: string; uri: string; headers: SipHeader[]; body?: Buffer }[] = [
    {
      name: 'INVITE with SDP',
      method: 'INVITE',
      uri: 'sip:bob@192.0.2.20:5062',
      headers: invite(),
      body: SDP,
    },
    {
      name: 'INVITE with passthrough, Route, a To tag and a Content-Length given',
      method: 'INVITE',
      uri: 'sip:bob@192.0.2.20;transport=udp',
      headers: invite([
        { name: 'Route', value: '<sip:proxy.example.com;lr>' },
        { name: 'P-Asserted-Identity', value: '<sip:+15550100@example.com>' },
        { name: 'Supported', value: '100rel, timer' },
        { name: 'Content-Length', value: '999' },
      ]).map((h) => (h.name === 'To' ? { name: 'To', value: '<sip:bob@example.com>;tag=t-1' } : h)),
      body: SDP,
    },
    {
      name: 'BYE without a body, two via-parms in one Via',
      method: 'BYE',
      uri: 'sip:bob@192.0.2.20',
      headers: [
        {
          name: 'Via',
          value: 'SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-1, SIP/2.0/UDP 192.0.2.11;branch=z9hG4bK-2',
        },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: 'sip:alice@example.com;tag=a' },
        { name: 'To', value: '<sip:bob@example.com>;tag=b' },
        { name: 'Call-ID', value: 'x@y' },
        { name: 'CSeq', value: '2147483647 BYE' },
        { name: 'Reason', value: 'SIP;cause=200;text="Call completed"' },
      ],
    },
    {
      name: 'a From tag inside a quoted display name is not the tag',
      method: 'INVITE',
      uri: 'sip:bob@192.0.2.20',
      headers: invite().map((h) =>
        h.name === 'From' ? { name: 'From', value: '"a;tag=no" <sip:a@example.com;tag=no>;tag=yes' } : h,
      ),
    },
  ];
  for (const c of cases) {
    test(`${c.name}: the same request as parsing the bytes`, () => {
      const out = outgoingRequest(c.method, c.uri, c.headers, c.body);
      assert.deepEqual(out.bytes, buildRequest(c.method, c.uri, c.headers, c.body));
      assert.equal(out.request.raw, undefined, 'built, not parsed');
      assert.deepEqual(fields(out.request), fields(parsed(out.bytes)));
      // Serialized again (a proxy forwarding it, a retransmission built anew), it is the same bytes.
      assert.deepEqual(serializeMessage(out.request), out.bytes);
    });
  }

  // What the parser would read back differently, or refuse, is parsed as before.
  const parsedCases: { name: string; headers: SipHeader[] }[] = [
    {
      name: 'a non-ASCII display name (the head is read as latin1)',
      headers: invite().map((h) =>
        h.name === 'From' ? { name: 'From', value: '"Zoë" <sip:z@example.com>;tag=1' } : h,
      ),
    },
    { name: 'a value with trailing whitespace', headers: invite([{ name: 'Subject', value: 'hi ' }]) },
    {
      name: 'a name not in canonical form',
      headers: invite([{ name: 'via', value: 'SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK-9' }]),
    },
    {
      name: 'a CSeq method that is not the request method',
      headers: invite().map((h) => (h.name === 'CSeq' ? { name: 'CSeq', value: '1 BYE' } : h)),
    },
  ];
  for (const c of parsedCases) {
    test(`${c.name}: the bytes are parsed`, () => {
      if (c.name.startsWith('a CSeq')) {
        // The parser refuses it (§8.1.1.5), as sendRequest did before.
        assert.throws(() => outgoingRequest('INVITE', 'sip:bob@192.0.2.20', c.headers));
        return;
      }
      const out = outgoingRequest('INVITE', 'sip:bob@192.0.2.20', c.headers);
      assert.ok(out.request.raw, 'parsed from the bytes');
      assert.deepEqual(fields(out.request), fields(parsed(out.bytes)));
    });
  }
});

describe('dialogRequest: a request within a dialog with the request it parses as', () => {
  const dialog = (): Dialog => ({
    id: { callId: 'c-1@192.0.2.10', localTag: 'l-1', remoteTag: 'r-1' },
    state: 'confirmed',
    localSeq: 41,
    remoteSeq: 7,
    localUri: '<sip:alice@example.com>',
    remoteUri: '<sip:bob@example.com>',
    remoteTarget: 'sip:bob@192.0.2.20:5062',
    routeSet: ['<sip:proxy.example.com;lr>'],
    secure: false,
  });
  test('BYE: the bytes of buildDialogRequest, the request of parsing them, CSeq incremented once', () => {
    const options = {
      via: 'SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-bye1;rport',
      headers: [{ name: 'Reason', value: 'SIP;cause=200;text="done"' }],
    };
    const d = dialog();
    const out = dialogRequest(d, 'BYE', options);
    assert.equal(d.localSeq, 42);
    assert.deepEqual(out.bytes, buildDialogRequest({ ...dialog(), localSeq: 41 }, 'BYE', options));
    assert.equal(out.request.raw, undefined);
    assert.deepEqual(fields(out.request), fields(parsed(out.bytes)));
    assert.deepEqual(out.request.cseq, { seq: 42, method: 'BYE' });
    assert.equal(out.request.fromTag, 'l-1');
    assert.equal(out.request.toTag, 'r-1');
  });
});
