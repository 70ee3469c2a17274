// Calls through the B2BUA with media anchored on voxgate's relay and on a real RTPengine (userspace mode):
// the SDP each phone sees points at the relay, and RTP sent by each phone reaches the other through it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { header, type SipRequest } from '../../src/sip/index.js';
import { CALL_EVENTS_STREAM, decodeCallEvent } from '../../src/store/index.js';
import { endedEvent, startGateway, HARNESS_USERS, type GatewayHarness } from '../helpers/gateway-harness.js';
import { relaySkip, startRelay, type RelayKind, type RunningRelay } from '../helpers/relays.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };

function mediaPort(body: Buffer): number {
  const m = /^m=audio (\d+) /m.exec(body.toString('latin1'));
  assert.ok(m, `no m=audio line in ${body.toString('latin1')}`);
  return Number(m[1]);
}

function connection(body: Buffer): string | undefined {
  return /^c=IN IP4 (\S+)/m.exec(body.toString('latin1'))?.[1];
}

/** An RTP packet: version 2, PCMA, the given sequence number, 160 bytes of payload. */
function rtp(seq: number, ssrc: number): Buffer {
  const packet = Buffer.alloc(12 + 160, 0xd5);
  packet[0] = 0x80;
  packet[1] = 8;
  packet.writeUInt16BE(seq, 2);
  packet.writeUInt32BE(seq * 160, 4);
  packet.writeUInt32BE(ssrc, 8);
  return packet;
}

async function rtpSocket(): Promise<{ socket: Socket; port: number; received: Buffer[] }> {
  const socket = createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (m) => received.push(m));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, received };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const kind of ['voxgate', 'rtpengine'] as RelayKind[])
  describe(
    `B2BUA with media anchored on ${kind === 'voxgate' ? "voxgate's relay" : 'RTPengine'} (ng offer/answer/delete)`,
    { skip: relaySkip(kind) },
    () => {
      let engine: RunningRelay;
      let gw: GatewayHarness;
      before(async () => {
        engine = await startRelay(kind);
        gw = await startGateway({
          timers: FAST,
          relays: [{ host: '127.0.0.1', port: engine.ngPort }],
          mediaTimeoutMs: 1500,
        });
      });
      after(async () => {
        await gw?.close();
        await engine?.stop();
      });

      test('both SDPs point at the relay and RTP flows both ways through it; the ended event has media stats', async () => {
        const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
        const bob = await SipPhone.open('bob', HARNESS_USERS.bob, gw.port);
        const aliceRtp = await rtpSocket();
        const bobRtp = await rtpSocket();
        try {
          await alice.register();
          await bob.register();
          const call = await alice.invite('bob', sdp(aliceRtp.port));
          const invite = (await bob.request('INVITE')) as SipRequest;
          const relayForBob = mediaPort(invite.body);
          assert.notEqual(relayForBob, aliceRtp.port, 'the callee must not see the caller media address');
          assert.equal(connection(invite.body), '127.0.0.1');
          assert.doesNotMatch(invite.body.toString(), /a=candidate/);

          bob.reply(invite, 200, 'OK', 'bm1', {}, sdp(bobRtp.port, 7));
          const ok = await call.final();
          assert.equal(ok.status, 200);
          const relayForAlice = mediaPort(ok.body);
          assert.notEqual(relayForAlice, bobRtp.port, 'the caller must not see the callee media address');
          call.ack();
          await bob.request('ACK');

          // Symmetric RTP: each side sends to the relay port it was given and receives from the other side.
          for (let seq = 1; seq <= 10; seq++) {
            aliceRtp.socket.send(rtp(seq, 0xa11ce), relayForAlice, '127.0.0.1');
            bobRtp.socket.send(rtp(seq, 0xb0b), relayForBob, '127.0.0.1');
            await new Promise((r) => setTimeout(r, 20));
          }
          await until(() => aliceRtp.received.length >= 5 && bobRtp.received.length >= 5);
          assert.equal(bobRtp.received[0]!.readUInt32BE(8), 0xa11ce, 'the callee receives the caller stream');
          assert.equal(aliceRtp.received[0]!.readUInt32BE(8), 0xb0b, 'the caller receives the callee stream');

          call.send('BYE');
          bob.reply(await bob.request('BYE'), 200, 'OK', 'bm1');
          let ended;
          const deadline = Date.now() + 5000;
          while (!ended && Date.now() < deadline) {
            for (const e of await gw.state.events.consume(CALL_EVENTS_STREAM, 'media-test', 'c', {
              count: 50,
              blockMs: 200,
            })) {
              const event = decodeCallEvent(e.fields);
              if (event.callId === call.callId && event.type === 'ended') ended = event;
            }
          }
          assert.ok(ended, 'an ended event');
          assert.ok(
            (ended.media?.callerToCallee?.packets ?? 0) >= 5,
            `media stats: ${JSON.stringify(ended.media)}`,
          );
          assert.ok(
            (ended.media?.calleeToCaller?.packets ?? 0) >= 5,
            `media stats: ${JSON.stringify(ended.media)}`,
          );
        } finally {
          alice.close();
          bob.close();
          aliceRtp.socket.close();
          bobRtp.socket.close();
        }
      });

      test('no RTP for the media timeout: the call is ended on both legs', async () => {
        const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
        const bob = await SipPhone.open('bob', HARNESS_USERS.bob, gw.port);
        try {
          await alice.register();
          await bob.register();
          const call = await alice.invite('bob');
          const invite = (await bob.request('INVITE')) as SipRequest;
          bob.reply(invite, 200, 'OK', 'bm2', {}, sdp(40100, 9));
          await call.final();
          call.ack();
          const [toAlice, toBob] = await Promise.all([alice.request('BYE', 6000), bob.request('BYE', 6000)]);
          assert.match(header(toAlice, 'Reason') ?? '', /media timeout/);
          assert.equal(toBob.callId, invite.callId);
        } finally {
          alice.close();
          bob.close();
        }
      });

      test('a relay that does not answer: the call is refused with 503 and the relay leaves rotation', async () => {
        const dead = await startGateway({ timers: FAST, relays: [{ host: '127.0.0.1', port: 9 }] });
        const alice = await SipPhone.open('alice', HARNESS_USERS.alice, dead.port);
        const bob = await SipPhone.open('bob', HARNESS_USERS.bob, dead.port);
        try {
          await alice.register();
          await bob.register();
          const call = await alice.invite('bob');
          const refused = await call.final(8000);
          assert.equal(refused.status, 503);
          assert.equal(bob.received.filter((m) => m.kind === 'request' && m.method === 'INVITE').length, 0);
          assert.equal(dead.gateway.b2bua.activeCalls, 0);
          assert.deepEqual(dead.media.healthy(), [], 'the silent relay is out of rotation');
          // The record blames the relay, not the callee.
          const ended = await endedEvent(dead, 'relay-down', (e) => e.callId === call.callId);
          assert.deepEqual(
            [ended.hangupBy, ended.reason, ended.sipCode],
            ['system', 'media relay failed', 503],
          );
        } finally {
          alice.close();
          bob.close();
          await dead.close();
        }
      });
    },
  );
