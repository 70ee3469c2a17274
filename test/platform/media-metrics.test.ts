import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createMediaRelay,
  createNgClient,
  createNgControlServer,
  type MediaRelay,
  type NgClient,
  type NgControlServer,
} from '../../src/media/index.js';
import { Registry } from '../../src/observability/index.js';
import { collectMediaMetrics } from '../../src/platform/media-metrics.js';
import { mPort, party, rtp, sdp, until } from '../helpers/rtp-party.js';

describe('media relay metrics', () => {
  let relay: MediaRelay;
  let server: NgControlServer;
  let ng: NgClient;
  let registry: Registry;
  let stop: () => void;
  before(async () => {
    const portMin = 47000 + 2 * Math.floor(Math.random() * 1000);
    relay = createMediaRelay({
      bindHost: '127.0.0.1',
      advertised: '127.0.0.1',
      portMin,
      portMax: portMin + 19,
      timeoutMs: 200,
    });
    registry = new Registry();
    stop = collectMediaMetrics(registry, () => relay);
    server = await createNgControlServer({ host: '127.0.0.1', port: 0, handlers: relay.handlers });
    ng = createNgClient({ host: '127.0.0.1', port: server.address().port, timeoutMs: 1000, retries: 1 });
  });
  after(async () => {
    stop();
    await ng.close();
    await server.close();
    relay.close();
  });

  test('sessions, packets and bytes relayed, lost packets, jitter, ended calls and media timeouts', async () => {
    const a = await party();
    const b = await party();
    try {
      await ng.request('offer', { 'call-id': 'm1', 'from-tag': 'ta', sdp: sdp(a.port) });
      const answer = await ng.request('answer', {
        'call-id': 'm1',
        'from-tag': 'ta',
        'to-tag': 'tb',
        sdp: sdp(b.port),
      });
      for (const seq of [1, 2, 4, 5]) a.socket.send(rtp(seq, 0xa), mPort(answer.sdp), '127.0.0.1');
      await until(() => b.got.length === 4);
      let text = await registry.metrics();
      assert.match(text, /^voxgate_media_sessions 1$/m);
      assert.match(text, /^voxgate_media_port_pairs_in_use 2$/m);
      assert.match(text, /^voxgate_media_packets_relayed_total 4$/m);
      assert.match(text, new RegExp(`^voxgate_media_bytes_relayed_total ${4 * 172}$`, 'm'));
      await ng.request('delete', { 'call-id': 'm1' });
      await ng.request('offer', { 'call-id': 'm2', 'from-tag': 'ta', sdp: sdp(a.port) });
      await until(() => relay.calls === 0, 2000);
      text = await registry.metrics();
      assert.match(text, /^voxgate_media_sessions 0$/m);
      assert.match(text, /^voxgate_media_packets_relayed_total 4$/m, 'a counter does not count twice');
      assert.match(text, /^voxgate_media_packets_lost_total 1$/m);
      assert.match(text, /^voxgate_media_stream_jitter_seconds_count 1$/m);
      assert.match(text, /^voxgate_media_sessions_ended_total\{reason="delete"\} 1$/m);
      assert.match(text, /^voxgate_media_sessions_ended_total\{reason="timeout"\} 1$/m);
      assert.match(text, /^voxgate_media_timeouts_total 1$/m);
    } finally {
      a.close();
      b.close();
    }
  });
});
