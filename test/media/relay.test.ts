// voxgate's media relay through its ng control socket, with real UDP sockets playing the two parties.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createMediaRelay,
  createNgClient,
  createNgControlServer,
  mediaTimeoutChannel,
  NgErrorReply,
  type MediaRelay,
  type MediaTimeoutEvent,
  type NgClient,
  type NgControlServer,
} from '../../src/media/index.js';
import { relaySocketKinds } from '../helpers/relay-sockets.js';
import { mPort, party, rtp, sdp, until } from '../helpers/rtp-party.js';

const PORT_MIN = 31000 + 2 * Math.floor(Math.random() * 2000);

for (const sockets of relaySocketKinds()) {
  describe(`voxgate's media relay (ng offer/answer/delete/query over real UDP) (${sockets.kind} sockets)`, () => {
    let relay: MediaRelay;
    let server: NgControlServer;
    let ng: NgClient;
    before(async () => {
      relay = createMediaRelay({
        bindHost: '127.0.0.1',
        advertised: '127.0.0.1',
        portMin: PORT_MIN,
        portMax: PORT_MIN + 99,
        timeoutMs: 600,
        sockets,
      });
      server = await createNgControlServer({ host: '127.0.0.1', port: 0, handlers: relay.handlers });
      ng = createNgClient({ host: '127.0.0.1', port: server.address().port, timeoutMs: 1000, retries: 1 });
    });
    after(async () => {
      await ng.close();
      await server.close();
      relay.close();
    });

    test('offer and answer anchor both sides; RTP and RTCP flow both ways with latching; stats; delete frees ports', async () => {
      const a = await party();
      const b = await party();
      try {
        const offer = await ng.request('offer', {
          'call-id': 'c1',
          'from-tag': 'ta',
          sdp: sdp(a.port, ['a=candidate:1 1 UDP 2130706431 10.0.0.5 4000 typ host', 'a=ice-ufrag:x']),
          replace: ['origin', 'session-connection'],
          ICE: 'remove',
        });
        const toB = String(offer.sdp);
        assert.match(toB, /^c=IN IP4 127\.0\.0\.1\r$/m);
        assert.doesNotMatch(toB, /a=candidate|a=ice-ufrag/, 'ICE removed');
        assert.match(toB, /a=rtpmap:101 telephone-event\/8000/, 'other lines are kept');
        const relayForB = mPort(toB);
        assert.ok(relayForB >= PORT_MIN && relayForB <= PORT_MIN + 99 && relayForB % 2 === 0);

        const answer = await ng.request('answer', {
          'call-id': 'c1',
          'from-tag': 'ta',
          'to-tag': 'tb',
          sdp: sdp(b.port),
        });
        const relayForA = mPort(answer.sdp);
        assert.notEqual(relayForA, relayForB);

        for (let seq = 1; seq <= 20; seq++) {
          a.socket.send(rtp(seq, 0xa), relayForA, '127.0.0.1');
          if (seq !== 7) b.socket.send(rtp(1000 + seq, 0xb), relayForB, '127.0.0.1'); // b loses one packet
        }
        a.rtcp.send(Buffer.from([0x80, 200, 0, 6, ...Buffer.alloc(24)]), relayForA + 1, '127.0.0.1');
        await until(() => b.got.length === 20 && a.got.length === 19 && b.gotRtcp.length === 1);
        assert.equal(b.got[0]!.readUInt32BE(8), 0xa);
        assert.equal(a.got[0]!.readUInt32BE(8), 0xb);

        const query = await ng.request('query', { 'call-id': 'c1' });
        const tags = query.tags as Record<
          string,
          { medias: { streams: { stats: Record<string, number> }[] }[] }
        >;
        const fromA = tags.ta!.medias[0]!.streams[0]!.stats;
        const fromB = tags.tb!.medias[0]!.streams[0]!.stats;
        assert.equal(fromA.packets, 20);
        assert.equal(fromA.bytes, 20 * 172 + 28, 'RTP and RTCP bytes');
        assert.equal(fromA['packets lost'], 0);
        assert.equal(fromB.packets, 19);
        assert.equal(fromB['packets lost'], 1, 'a gap in the sequence is a lost packet (RFC 3550 A.3)');

        assert.equal(relay.portsInUse, 2);
        const deleted = await ng.request('delete', { 'call-id': 'c1', 'from-tag': 'ta' });
        assert.equal(deleted.result, 'ok');
        assert.equal(relay.portsInUse, 0);
        assert.deepEqual((await ng.request('list')).calls, []);
        await assert.rejects(ng.request('query', { 'call-id': 'c1' }), (err: unknown) => {
          assert.ok(err instanceof NgErrorReply);
          assert.match(err.message, /Unknown call-id/);
          return true;
        });
      } finally {
        for (const p of [a, b]) {
          p.socket.close();
          p.rtcp.close();
        }
      }
    });

    test('latching: the party is reached where its packets come from, not where its SDP said (NAT)', async () => {
      const a = await party();
      const b = await party();
      try {
        const offer = await ng.request('offer', { 'call-id': 'c2', 'from-tag': 'ta', sdp: sdp(9) }); // a lies
        await ng.request('answer', { 'call-id': 'c2', 'from-tag': 'ta', 'to-tag': 'tb', sdp: sdp(b.port) });
        const answer = await ng.request('answer', {
          'call-id': 'c2',
          'from-tag': 'ta',
          'to-tag': 'tb',
          sdp: sdp(b.port),
        });
        a.socket.send(rtp(1, 0xa), mPort(answer.sdp), '127.0.0.1');
        await until(() => b.got.length === 1);
        b.socket.send(rtp(1, 0xb), mPort(offer.sdp), '127.0.0.1');
        await until(() => a.got.length === 1);
        await ng.request('delete', { 'call-id': 'c2', 'from-tag': 'ta' });
      } finally {
        for (const p of [a, b]) {
          p.socket.close();
          p.rtcp.close();
        }
      }
    });

    test('bad input gets an error reply and leaks no port', async () => {
      const reason = async (args: Record<string, string>) => {
        try {
          await ng.request('offer', args);
        } catch (err) {
          if (err instanceof NgErrorReply) return err.message;
          throw err;
        }
        return 'ok';
      };
      assert.match(await reason({ 'from-tag': 'x', sdp: sdp(4000) }), /No call-id in message/);
      assert.match(await reason({ 'call-id': 'bad', sdp: sdp(4000) }), /No from-tag in message/);
      assert.match(await reason({ 'call-id': 'bad', 'from-tag': 'x' }), /No SDP body in message/);
      assert.match(
        await reason({ 'call-id': 'bad', 'from-tag': 'x', sdp: 'not sdp' }),
        /Failed to parse SDP/,
      );
      assert.match(
        await reason({ 'call-id': 'bad', 'from-tag': 'x', sdp: 'v=0\r\nm=audio x RTP/AVP 0\r\n' }),
        /Failed to parse SDP/,
      );
      await assert.rejects(
        ng.request('answer', { 'call-id': 'nope', 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(4000) }),
        /Unknown call-id/,
      );
      assert.equal(relay.portsInUse, 0);
      assert.equal(relay.calls, 0);
    });

    test('a call with no packets for the media timeout is deleted and its ports freed', async () => {
      const seen: MediaTimeoutEvent[] = [];
      const onTimeout = (m: unknown) => seen.push(m as MediaTimeoutEvent);
      mediaTimeoutChannel.subscribe(onTimeout);
      try {
        await ng.request('offer', { 'call-id': 'idle', 'from-tag': 'ta', sdp: sdp(4000) });
        assert.equal(relay.portsInUse, 2);
        await until(() => seen.some((e) => e.callId === 'idle'), 3000);
        assert.equal(relay.portsInUse, 0);
        const stats = (await ng.request('statistics')).statistics as {
          totalstatistics: Record<string, number>;
        };
        assert.ok(stats.totalstatistics.timeoutsessions! >= 1);
      } finally {
        mediaTimeoutChannel.unsubscribe(onTimeout);
      }
    });
  });
}
