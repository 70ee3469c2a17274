// The relay's data plane in the situations calls meet: strict source, rtcp-mux and demultiplexing, a media
// address from the SIP source, several media sections, re-offers, the media timeout seen through query,
// statistics totals, and a port range too small (no port leaks). Real UDP sockets play the parties.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createMediaRelay,
  createNgClient,
  createNgControlServer,
  mediaCallEndedChannel,
  NgErrorReply,
  type MediaCallEndedEvent,
  type MediaRelay,
  type NgClient,
  type NgControlServer,
  type NgDictionary,
  type RelaySockets,
} from '../../src/media/index.js';
import { relaySocketKinds } from '../helpers/relay-sockets.js';
import { mPort, party, rtcpRr, rtp, sdp, until, type Party } from '../helpers/rtp-party.js';

interface Relay {
  relay: MediaRelay;
  server: NgControlServer;
  ng: NgClient;
  portMin: number;
  close(): Promise<void>;
}

async function startRelay(pairs: number, timeoutMs = 0, sockets?: RelaySockets): Promise<Relay> {
  const portMin = 41000 + 2 * Math.floor(Math.random() * 4000);
  const relay = createMediaRelay({
    bindHost: '127.0.0.1',
    advertised: '127.0.0.1',
    portMin,
    portMax: portMin + 2 * pairs - 1,
    timeoutMs,
    sockets,
  });
  const server = await createNgControlServer({ host: '127.0.0.1', port: 0, handlers: relay.handlers });
  const ng = createNgClient({ host: '127.0.0.1', port: server.address().port, timeoutMs: 1000, retries: 1 });
  return {
    relay,
    server,
    ng,
    portMin,
    async close() {
      await ng.close();
      await server.close();
      relay.close();
    },
  };
}

type StreamStats = Record<string, number>;
function streamStats(reply: NgDictionary, tag: string, media = 0): StreamStats {
  const tags = reply.tags as Record<string, { medias: { streams: { stats: StreamStats }[] }[] }>;
  return tags[tag]!.medias[media]!.streams[0]!.stats;
}

async function errorReason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof NgErrorReply) return err.message;
    throw err;
  }
  return 'ok';
}

for (const sockets of relaySocketKinds()) {
  describe(`media relay data plane (${sockets.kind} sockets)`, () => {
    let r: Relay;
    const parties: Party[] = [];
    const newParty = async (host?: string) => {
      const p = await party(host);
      parties.push(p);
      return p;
    };
    before(async () => {
      r = await startRelay(50, 0, sockets);
    });
    after(async () => {
      for (const p of parties) p.close();
      await r.close();
    });

    /** Offer from a (tag ta) and answer from b (tag tb); returns the relay ports each party sends to. */
    async function call(
      callId: string,
      a: Party,
      b: Party,
      offerArgs: NgDictionary = {},
      answerArgs: NgDictionary = {},
      aExtra: string[] = [],
      bExtra: string[] = [],
    ) {
      const offer = await r.ng.request('offer', {
        'call-id': callId,
        'from-tag': 'ta',
        sdp: sdp(a.port, aExtra),
        ...offerArgs,
      });
      const answer = await r.ng.request('answer', {
        'call-id': callId,
        'from-tag': 'ta',
        'to-tag': 'tb',
        sdp: sdp(b.port, bExtra),
        ...answerArgs,
      });
      return {
        toB: String(offer.sdp),
        toA: String(answer.sdp),
        aSends: mPort(answer.sdp),
        bSends: mPort(offer.sdp),
      };
    }

    test('strict-source drops packets from another address; without it the relay latches on the first packet', async () => {
      const a = await newParty();
      const b = await newParty();
      const intruder = await newParty('127.0.0.2');
      const { aSends } = await call('strict', a, b, { flags: ['strict-source'] });
      intruder.socket.send(rtp(1, 0xbad), aSends, '127.0.0.1');
      a.socket.send(rtp(1, 0xa), aSends, '127.0.0.1');
      await until(() => b.got.length === 1);
      await new Promise((res) => setTimeout(res, 50));
      assert.equal(b.got.length, 1);
      assert.equal(b.got[0]!.readUInt32BE(8), 0xa, 'only the party got through');
      const stats = streamStats(await r.ng.request('query', { 'call-id': 'strict' }), 'ta');
      assert.equal(stats.errors, 1, 'the intruder packet is an error');
      assert.equal(stats.packets, 1);
      await r.ng.request('delete', { 'call-id': 'strict' });

      // Without strict-source, whoever sends first is the party (symmetric latching), wherever its SDP pointed.
      const c = await newParty();
      const d = await newParty();
      const loose = await call('loose', c, d);
      intruder.socket.send(rtp(1, 0x1a7c4), loose.aSends, '127.0.0.1');
      await until(() => d.got.length === 1);
      d.socket.send(rtp(1, 0xd), loose.bSends, '127.0.0.1');
      await until(() => intruder.got.length === 1);
      assert.equal(c.got.length, 0, 'packets for c go where c was latched');
      const endpoint = (
        (await r.ng.request('query', { 'call-id': 'loose' })).tags as Record<
          string,
          { medias: { streams: { endpoint: { address: string } }[] }[] }
        >
      ).ta!.medias[0]!.streams[0]!.endpoint;
      assert.equal(endpoint.address, '127.0.0.2');
      await r.ng.request('delete', { 'call-id': 'loose' });
    });

    test('rtcp-mux offered and accepted: RTP and RTCP share the RTP ports both ways (RFC 5761)', async () => {
      const a = await newParty();
      const b = await newParty();
      const { toB, toA, aSends, bSends } = await call('mux', a, b, {}, {}, ['a=rtcp-mux'], ['a=rtcp-mux']);
      assert.match(toB, /^a=rtcp-mux\r$/m);
      assert.match(toA, /^a=rtcp-mux\r$/m);
      a.socket.send(rtcpRr(0xa), aSends, '127.0.0.1');
      b.socket.send(rtcpRr(0xb), bSends, '127.0.0.1');
      a.socket.send(rtp(1, 0xa), aSends, '127.0.0.1');
      await until(() => b.got.length === 2 && a.got.length === 1);
      assert.equal(b.got[0]![1], 201, 'RTCP arrives on the RTP port');
      assert.equal(a.got[0]![1], 201);
      assert.equal(b.gotRtcp.length + a.gotRtcp.length, 0);
      const q = await r.ng.request('query', { 'call-id': 'mux' });
      assert.equal(streamStats(q, 'ta')['RTCP packets'], 1);
      assert.equal(streamStats(q, 'ta').packets, 1);
      await r.ng.request('delete', { 'call-id': 'mux' });
    });

    test('rtcp-mux demux: the callee gets separate RTCP, the caller keeps multiplexing, the relay converts', async () => {
      const a = await newParty();
      const b = await newParty();
      const { toB, toA, aSends, bSends } = await call(
        'demux',
        a,
        b,
        { 'rtcp-mux': ['demux'] },
        { 'rtcp-mux': ['accept'] },
        ['a=rtcp-mux'],
      );
      assert.doesNotMatch(toB, /rtcp-mux/, 'demux: the callee is not offered multiplexing');
      assert.match(toA, /^a=rtcp-mux\r$/m, 'accept: the caller gets it back');
      a.socket.send(rtcpRr(0xa), aSends, '127.0.0.1'); // muxed, on the RTP port
      await until(() => b.gotRtcp.length === 1);
      assert.equal(b.got.length, 0, 'the callee gets RTCP on its RTCP port');
      b.rtcp.send(rtcpRr(0xb), bSends + 1, '127.0.0.1'); // plain RTCP to the relay's RTCP port
      await until(() => a.got.length === 1);
      assert.equal(a.got[0]![1], 201, 'the caller gets it muxed on its RTP port');
      assert.equal(a.gotRtcp.length, 0);
      await r.ng.request('delete', { 'call-id': 'demux' });
    });

    test('rtcp-mux offered but not answered: the offerer does not multiplex, so its RTCP goes to its RTCP port', async () => {
      // RFC 5761 §5.1.1: "If the answer does not contain an "a=rtcp-mux" attribute, the offerer MUST NOT
      // multiplex RTP and RTCP packets on a single port."
      const a = await newParty();
      const b = await newParty();
      const { toA, bSends } = await call('mux-refused', a, b, {}, {}, ['a=rtcp-mux'], []);
      assert.doesNotMatch(toA, /rtcp-mux/);
      b.rtcp.send(rtcpRr(0xb), bSends + 1, '127.0.0.1');
      await until(() => a.gotRtcp.length === 1);
      assert.equal(a.got.length, 0, 'not on its RTP port');
      await r.ng.request('delete', { 'call-id': 'mux-refused' });
    });

    test('rtcp-mux offer adds a=rtcp-mux to the SDP the callee gets', async () => {
      const offer = await r.ng.request('offer', {
        'call-id': 'mux-offer',
        'from-tag': 'ta',
        sdp: sdp(4000),
        'rtcp-mux': ['offer'],
      });
      assert.match(String(offer.sdp), /^a=rtcp-mux\r$/m);
      await r.ng.request('delete', { 'call-id': 'mux-offer' });
    });

    test('SRTP (SDES) passes through: a=crypto kept in the SDP, packets relayed byte for byte', async () => {
      const a = await newParty();
      const b = await newParty();
      const crypto = 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
      const savp = (port: number) => sdp(port, [crypto]).replace('RTP/AVP', 'RTP/SAVP');
      const offer = await r.ng.request('offer', { 'call-id': 'srtp', 'from-tag': 'ta', sdp: savp(a.port) });
      const answer = await r.ng.request('answer', {
        'call-id': 'srtp',
        'from-tag': 'ta',
        'to-tag': 'tb',
        sdp: savp(b.port),
      });
      assert.match(String(offer.sdp), /^m=audio \d+ RTP\/SAVP 8 101\r$/m);
      assert.ok(String(offer.sdp).includes(crypto), 'the key goes end to end');
      // An SRTP packet: a clear RTP header, then ciphertext and an authentication tag the relay cannot read.
      const packet = Buffer.concat([
        rtp(1, 0xa).subarray(0, 12),
        Buffer.from(Array.from({ length: 170 }, (_, i) => (i * 37) & 0xff)),
      ]);
      a.socket.send(packet, mPort(answer.sdp), '127.0.0.1');
      await until(() => b.got.length === 1);
      assert.ok(b.got[0]!.equals(packet));
      await r.ng.request('delete', { 'call-id': 'srtp' });
    });

    test('SIP-source-address with received-from: media goes to where the SIP came from, with the SDP port', async () => {
      const a = await newParty();
      const b = await newParty();
      const offer = await r.ng.request('offer', {
        'call-id': 'nat',
        'from-tag': 'ta',
        sdp: sdp(a.port, [], '192.0.2.10'), // a private-side address the relay cannot reach
        flags: ['SIP-source-address'],
        'received-from': ['IP4', '127.0.0.1'],
      });
      await r.ng.request('answer', { 'call-id': 'nat', 'from-tag': 'ta', 'to-tag': 'tb', sdp: sdp(b.port) });
      b.socket.send(rtp(1, 0xb), mPort(offer.sdp), '127.0.0.1');
      await until(() => a.got.length === 1);
      await r.ng.request('delete', { 'call-id': 'nat' });
    });

    test('audio and video: a port pair per section and side, each relayed on its own', async () => {
      const a = await newParty();
      const av = await newParty();
      const b = await newParty();
      const bv = await newParty();
      const withVideo = (audio: number, video: number) =>
        sdp(audio).replace(/\r\n$/, '') + `\r\nm=video ${video} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n`;
      const before = r.relay.portsInUse;
      const offer = await r.ng.request('offer', {
        'call-id': 'av',
        'from-tag': 'ta',
        sdp: withVideo(a.port, av.port),
      });
      const answer = await r.ng.request('answer', {
        'call-id': 'av',
        'from-tag': 'ta',
        'to-tag': 'tb',
        sdp: withVideo(b.port, bv.port),
      });
      assert.equal(r.relay.portsInUse - before, 4);
      av.socket.send(rtp(1, 0xa1), mPort(answer.sdp, 'video'), '127.0.0.1');
      a.socket.send(rtp(1, 0xa0), mPort(answer.sdp, 'audio'), '127.0.0.1');
      await until(() => bv.got.length === 1 && b.got.length === 1);
      assert.equal(bv.got[0]!.readUInt32BE(8), 0xa1);
      assert.equal(b.got[0]!.readUInt32BE(8), 0xa0);
      assert.notEqual(mPort(offer.sdp, 'video'), mPort(offer.sdp, 'audio'));
      await r.ng.request('delete', { 'call-id': 'av' });
      assert.equal(r.relay.portsInUse, before);
    });

    test('a repeated offer and a re-offer from the callee keep the same ports (no new allocation)', async () => {
      const a = await newParty();
      const b = await newParty();
      const first = await call('reoffer', a, b);
      const used = r.relay.portsInUse;
      const again = await r.ng.request('offer', { 'call-id': 'reoffer', 'from-tag': 'ta', sdp: sdp(a.port) });
      assert.equal(mPort(again.sdp), first.bSends);
      // A re-INVITE from the callee: it is now the offerer (from-tag tb), and the caller answers.
      const reoffer = await r.ng.request('offer', {
        'call-id': 'reoffer',
        'from-tag': 'tb',
        sdp: sdp(b.port),
      });
      assert.equal(mPort(reoffer.sdp), first.aSends);
      const reanswer = await r.ng.request('answer', {
        'call-id': 'reoffer',
        'from-tag': 'tb',
        'to-tag': 'ta',
        sdp: sdp(a.port),
      });
      assert.equal(mPort(reanswer.sdp), first.bSends);
      assert.equal(r.relay.portsInUse, used);
      await r.ng.request('delete', { 'call-id': 'reoffer' });
    });

    test('statistics counts relayed packets and bytes; a third party is refused', async () => {
      const a = await newParty();
      const b = await newParty();
      const before = (await r.ng.request('statistics')).statistics as {
        totalstatistics: Record<string, number>;
      };
      const { aSends } = await call('count', a, b);
      for (let i = 1; i <= 5; i++) a.socket.send(rtp(i, 0xa), aSends, '127.0.0.1');
      await until(() => b.got.length === 5);
      const after = (await r.ng.request('statistics')).statistics as {
        totalstatistics: Record<string, number>;
      };
      assert.equal(after.totalstatistics.relayedpackets! - before.totalstatistics.relayedpackets!, 5);
      assert.equal(after.totalstatistics.relayedbytes! - before.totalstatistics.relayedbytes!, 5 * 172);
      assert.match(
        await errorReason(
          r.ng.request('answer', { 'call-id': 'count', 'from-tag': 'ta', 'to-tag': 'tc', sdp: sdp(4000) }),
        ),
        /already has two parties/,
      );
      const ended: MediaCallEndedEvent[] = [];
      const onEnded = (m: unknown) => ended.push(m as MediaCallEndedEvent);
      mediaCallEndedChannel.subscribe(onEnded);
      try {
        const deleted = await r.ng.request('delete', { 'call-id': 'count' });
        assert.equal(streamStats(deleted, 'ta').packets, 5, 'delete returns the final stats');
        assert.deepEqual((deleted.totals as { RTP: Record<string, number> }).RTP, {
          packets: 5,
          bytes: 5 * 172,
          errors: 0,
        });
      } finally {
        mediaCallEndedChannel.unsubscribe(onEnded);
      }
      assert.equal(ended.length, 1);
      assert.equal(ended[0]!.reason, 'delete');
      assert.equal(
        ended[0]!.streams.reduce((n, s) => n + s.packets, 0),
        5,
      );
    });

    test('bad control input: error replies with reasons, and no call or port left behind', async () => {
      const calls = r.relay.calls;
      const ports = r.relay.portsInUse;
      assert.match(await errorReason(r.ng.request('query', {})), /No call-id in message/);
      const gone = await r.ng.request('delete', { 'call-id': 'nope' });
      assert.equal(gone.warning, "Call-ID not found or tags didn't match", 'as RTPengine: ok with a warning');
      assert.match(
        await errorReason(r.ng.request('answer', { 'call-id': 'x', 'from-tag': 'a', sdp: sdp(4000) })),
        /No to-tag in message/,
      );
      assert.match(
        await errorReason(
          r.ng.request('offer', { 'call-id': 'x', 'from-tag': 'a', sdp: 'v=0\r\nc=IN IP4\r\n' }),
        ),
        /Failed to parse SDP/,
      );
      assert.match(await errorReason(r.ng.request('no such command')), /Unrecognized command/i);
      assert.equal(r.relay.calls, calls);
      assert.equal(r.relay.portsInUse, ports);
      assert.equal(((await r.ng.request('list')).calls as unknown[]).length, r.relay.calls);
    });
  });
}

for (const sockets of relaySocketKinds()) {
  describe(`media relay limits and timeout (${sockets.kind} sockets)`, () => {
    test('an offer needing more port pairs than the range has fails with "Ran out of ports" and leaks none', async () => {
      const r = await startRelay(3, 0, sockets); // 3 pairs; an audio+video offer needs 4
      try {
        const two = sdp(4000).replace(/\r\n$/, '') + '\r\nm=video 4002 RTP/AVP 96\r\n';
        assert.match(
          await errorReason(r.ng.request('offer', { 'call-id': 'big', 'from-tag': 'ta', sdp: two })),
          /Ran out of ports/,
        );
        assert.equal(r.relay.portsInUse, 0);
        assert.equal(r.relay.calls, 0);
        // One-stream calls still fit, one at a time, and deleting frees them for the next.
        for (let i = 0; i < 5; i++) {
          await r.ng.request('offer', { 'call-id': `c${i}`, 'from-tag': 'ta', sdp: sdp(4000) });
          assert.equal(r.relay.portsInUse, 2);
          await r.ng.request('delete', { 'call-id': `c${i}` });
          assert.equal(r.relay.portsInUse, 0);
        }
      } finally {
        await r.close();
      }
    });

    test('the media timeout ends a quiet call; query and delete still give its final stats, list does not show it', async () => {
      const r = await startRelay(10, 300, sockets);
      const a = await party();
      const b = await party();
      try {
        await r.ng.request('offer', { 'call-id': 'quiet', 'from-tag': 'ta', sdp: sdp(a.port) });
        const answer = await r.ng.request('answer', {
          'call-id': 'quiet',
          'from-tag': 'ta',
          'to-tag': 'tb',
          sdp: sdp(b.port),
        });
        // Packets keep the call alive past the timeout.
        for (let i = 1; i <= 8; i++) {
          a.socket.send(rtp(i, 0xa), mPort(answer.sdp), '127.0.0.1');
          await new Promise((res) => setTimeout(res, 60));
        }
        assert.equal(r.relay.calls, 1, 'alive while packets flow');
        await until(() => r.relay.calls === 0, 2000);
        assert.equal(r.relay.portsInUse, 0);
        assert.deepEqual((await r.ng.request('list')).calls, []);
        const q = await r.ng.request('query', { 'call-id': 'quiet' });
        assert.ok(typeof q['timed out'] === 'number');
        assert.equal(streamStats(q, 'ta').packets, 8);
        const d = await r.ng.request('delete', { 'call-id': 'quiet' });
        assert.equal(streamStats(d, 'ta').packets, 8);
        assert.match(await errorReason(r.ng.request('query', { 'call-id': 'quiet' })), /Unknown call-id/);
        const stats = (await r.ng.request('statistics')).statistics as {
          totalstatistics: Record<string, number>;
        };
        assert.equal(stats.totalstatistics.timeoutsessions, 1);
      } finally {
        a.close();
        b.close();
        await r.close();
      }
    });
  });
}
