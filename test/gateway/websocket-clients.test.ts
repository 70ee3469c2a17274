// A browser/WebRTC-style client on SIP over WebSocket (RFC 7118): it registers with digest over its
// WebSocket, and a call to it reaches it on that same WebSocket with a WS Via and a transport=ws Contact.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  answerChallenge,
  buildResponse,
  header,
  headerValues,
  type SipRequest,
} from '../../src/sip/index.js';
import { startGateway, HARNESS_USERS, type GatewayHarness } from '../helpers/gateway-harness.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';
import { WsClient } from '../helpers/ws-sip-client.js';

const FAST = { t1: 50, t2: 400, t4: 500 };

const register = (cseq: number, authorization?: string) =>
  [
    'REGISTER sip:acme.example SIP/2.0',
    `Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws${cseq}`,
    'Max-Forwards: 70',
    'From: <sip:bob@acme.example>;tag=wsb',
    'To: <sip:bob@acme.example>',
    'Call-ID: ws-register-1',
    `CSeq: ${cseq} REGISTER`,
    'Contact: <sip:bob@df7jal23ls0d.invalid;transport=ws>',
    'Expires: 300',
    ...(authorization ? [`Authorization: ${authorization}`] : []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

describe('SIP over WebSocket clients at the gateway (RFC 7118)', () => {
  let gw: GatewayHarness;
  before(async () => {
    gw = await startGateway({ timers: FAST, ws: { port: 0 } });
  });
  after(() => gw.close());

  test('bob registers over WebSocket; a call reaches him on it with WS Via and Contact', async () => {
    const wsPort = gw.gateway.endpoint.address().ws!.port;
    const bob = await WsClient.open(wsPort);
    const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
    try {
      bob.send(register(1));
      const challenge = await bob.next((m) => m.kind === 'response' && m.status === 401, '401');
      const answer = answerChallenge({
        challenges: headerValues(challenge, 'WWW-Authenticate'),
        method: 'REGISTER',
        uri: 'sip:acme.example',
        username: 'bob',
        password: HARNESS_USERS.bob,
      });
      bob.send(register(2, answer!.authorization));
      await bob.next((m) => m.kind === 'response' && m.status === 200, '200 to REGISTER');
      const [binding] = await gw.state.registrations.list('sip:bob@acme.example');
      assert.equal(binding?.transport, 'ws');

      const call = await alice.invite('bob', sdp(41700));
      const invite = (await bob.next(
        (m) => m.kind === 'request' && m.method === 'INVITE',
        'INVITE',
      )) as SipRequest;
      assert.equal(invite.uri, 'sip:bob@df7jal23ls0d.invalid;transport=ws');
      assert.match(invite.topVia, /^SIP\/2\.0\/WS /, 'RFC 7118 §5.2: the Via transport is WS');
      assert.match(header(invite, 'Contact') ?? '', new RegExp(`:${wsPort};transport=ws>$`));
      bob.send(buildResponse(invite, 486, 'Busy Here', {}, undefined, 'wsbob'));
      assert.equal((await call.final()).status, 486);
      call.ack();
    } finally {
      bob.socket.close();
      alice.close();
    }
  });
});
