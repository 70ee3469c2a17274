import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildDialogRequest,
  createUacDialog,
  createUasDialog,
  header,
  headerValues,
  parseMessage,
  receiveDialogRequest,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/index.js';

const invite = parseMessage(
  Buffer.from(
    [
      'INVITE sip:bob@biloxi.example.com SIP/2.0',
      'Via: SIP/2.0/UDP proxy2.example.com;branch=z9hG4bK2, SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1',
      'Max-Forwards: 68',
      'Record-Route: <sip:proxy2.example.com;lr>, <sip:proxy1.example.com;lr>',
      'To: Bob <sip:bob@biloxi.example.com>',
      'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
      'Call-ID: a84b4c76e66710',
      'CSeq: 314159 INVITE',
      'Contact: <sip:alice@pc33.atlanta.example.com>',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  ),
  { datagram: true },
) as SipRequest;

function response(status: string, toTag: string, contact: string): SipResponse {
  return parseMessage(
    Buffer.from(
      [
        `SIP/2.0 ${status}`,
        'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1',
        'Record-Route: <sip:proxy2.example.com;lr>, <sip:proxy1.example.com;lr>',
        `To: Bob <sip:bob@biloxi.example.com>;tag=${toTag}`,
        'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
        'Call-ID: a84b4c76e66710',
        'CSeq: 314159 INVITE',
        `Contact: <${contact}>`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
    { datagram: true },
  ) as SipResponse;
}

describe('dialogs (RFC 3261 §12)', () => {
  test('§12.1.1 UAS: route set in order, remote target from Contact, remote CSeq, empty local CSeq', () => {
    const d = createUasDialog(invite, 'bobtag', 200);
    assert.deepEqual(d.id, { callId: 'a84b4c76e66710', localTag: 'bobtag', remoteTag: '1928301774' });
    assert.equal(d.state, 'confirmed');
    assert.deepEqual(d.routeSet, ['<sip:proxy2.example.com;lr>', '<sip:proxy1.example.com;lr>']);
    assert.equal(d.remoteTarget, 'sip:alice@pc33.atlanta.example.com');
    assert.equal(d.remoteSeq, 314159);
    assert.equal(d.localSeq, undefined);
    assert.equal(createUasDialog(invite, 'bobtag', 180).state, 'early');
  });

  test('§12.1.2 UAC: route set reversed; a BYE goes to the remote target through the routes (§12.2.1.1)', () => {
    const d = createUacDialog(invite, response('200 OK', 'bobtag', 'sip:bob@192.0.2.4'));
    assert.deepEqual(d.routeSet, ['<sip:proxy1.example.com;lr>', '<sip:proxy2.example.com;lr>']);
    assert.equal(d.localSeq, 314159);
    const bye = parseMessage(
      buildDialogRequest(d, 'BYE', { via: 'SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK3' }),
      {
        datagram: false,
      },
    ) as SipRequest;
    assert.equal(bye.uri, 'sip:bob@192.0.2.4');
    assert.deepEqual(headerValues(bye, 'Route'), [
      '<sip:proxy1.example.com;lr>',
      '<sip:proxy2.example.com;lr>',
    ]);
    assert.equal(header(bye, 'To'), 'Bob <sip:bob@biloxi.example.com>;tag=bobtag');
    assert.equal(header(bye, 'From'), 'Alice <sip:alice@atlanta.example.com>;tag=1928301774');
    assert.deepEqual(bye.cseq, { seq: 314160, method: 'BYE' }, 'CSeq incremented by one');
    const ack = parseMessage(buildDialogRequest(d, 'ACK', { via: 'SIP/2.0/UDP h;branch=z9hG4bK4' }), {
      datagram: false,
    });
    assert.equal(ack.cseq.seq, 314160, 'ACK/CANCEL reuse the sequence number');
  });

  test('§12.2.1.1 strict routing: the first route becomes the Request-URI, the remote target the last Route', () => {
    const d = createUasDialog(invite, 'bobtag', 200);
    const strict = { ...d, routeSet: ['<sip:strict.example.com>', '<sip:proxy1.example.com;lr>'] };
    const req = parseMessage(buildDialogRequest(strict, 'BYE', { via: 'SIP/2.0/UDP b;branch=z9hG4bK5' }), {
      datagram: false,
    }) as SipRequest;
    assert.equal(req.uri, 'sip:strict.example.com');
    assert.deepEqual(headerValues(req, 'Route'), [
      '<sip:proxy1.example.com;lr>',
      '<sip:alice@pc33.atlanta.example.com>',
    ]);
  });

  test('§12.2.2: out-of-order CSeq gets 500; re-INVITE refreshes the target; BYE ends the dialog', () => {
    const d = createUasDialog(invite, 'bobtag', 200);
    const inDialog = (method: string, seq: number, contact?: string) =>
      parseMessage(
        Buffer.from(
          [
            `${method} sip:bob@192.0.2.4 SIP/2.0`,
            'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK9' + seq,
            'To: <sip:bob@biloxi.example.com>;tag=bobtag',
            'From: <sip:alice@atlanta.example.com>;tag=1928301774',
            'Call-ID: a84b4c76e66710',
            `CSeq: ${seq} ${method}`,
            ...(contact ? [`Contact: <${contact}>`] : []),
            'Content-Length: 0',
            '',
            '',
          ].join('\r\n'),
        ),
        { datagram: true },
      ) as SipRequest;
    assert.equal(receiveDialogRequest(d, inDialog('INVITE', 314160, 'sip:alice@198.51.100.9')), undefined);
    assert.equal(d.remoteTarget, 'sip:alice@198.51.100.9');
    assert.equal(receiveDialogRequest(d, inDialog('INFO', 314159)), 500);
    assert.equal(receiveDialogRequest(d, inDialog('BYE', 314161)), undefined);
    assert.equal(d.state, 'terminated');
  });
});
