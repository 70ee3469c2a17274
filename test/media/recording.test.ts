// Call recording through ng (`record call` in the offer, `start recording` / `stop recording`): a pcap of every
// packet and a G.711 WAV per party and stream, stored in a folder, read back and checked byte for byte.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFolderStore } from '../../src/store/index.js';
import {
  createMediaRelay,
  relaySockets,
  createNgClient,
  createNgControlServer,
  mediaRecordingChannel,
  NgErrorReply,
  type MediaRecordingEvent,
  type MediaRelay,
  type NgClient,
  type NgControlServer,
  g711ToLinear,
} from '../../src/media/index.js';
import { mPort, party, rtp, rtcpRr, sdp, until, type Party } from '../helpers/rtp-party.js';

/** A PCMA packet whose 160 samples are all `sample`. */
function alaw(seq: number, ssrc: number, sample: number): Buffer {
  const p = rtp(seq, ssrc);
  p.fill(sample, 12);
  return p;
}

function wavInfo(wav: Buffer) {
  return {
    riff: wav.toString('latin1', 0, 4),
    format: wav.readUInt16LE(20),
    rate: wav.readUInt32LE(24),
    dataBytes: wav.readUInt32LE(40),
    data: wav.subarray(44),
  };
}

/** Records of a pcap file: [UDP destination port, UDP payload]. */
function pcapPackets(pcap: Buffer): { dport: number; payload: Buffer }[] {
  assert.equal(pcap.readUInt32LE(0), 0xa1b2c3d4);
  assert.equal(pcap.readUInt32LE(20), 101, 'LINKTYPE_RAW');
  const out = [];
  for (let at = 24; at < pcap.length;) {
    const length = pcap.readUInt32LE(at + 8);
    const ip = pcap.subarray(at + 16, at + 16 + length);
    out.push({ dport: ip.readUInt16BE(22), payload: ip.subarray(28) });
    at += 16 + length;
  }
  return out;
}

test('G.711 decoding (ITU-T G.711 tables): A-law and µ-law silence and extremes', () => {
  assert.deepEqual(
    [0xd5, 0x55, 0xaa, 0x2a].map((c) => g711ToLinear('alaw', c)),
    [8, -8, 32256, -32256],
  );
  assert.deepEqual(
    [0xff, 0x7f, 0x80, 0x00].map((c) => g711ToLinear('ulaw', c)),
    [0, 0, 32124, -32124],
  );
});

describe('call recording', () => {
  let dir: string;
  let relay: MediaRelay;
  let server: NgControlServer;
  let ng: NgClient;
  const parties: Party[] = [];
  const events: MediaRecordingEvent[] = [];
  const onEvent = (m: unknown) => events.push(m as MediaRecordingEvent);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'voxgate-rec-'));
    const portMin = 45000 + 2 * Math.floor(Math.random() * 1000);
    relay = createMediaRelay({
      bindHost: '127.0.0.1',
      advertised: '127.0.0.1',
      portMin,
      portMax: portMin + 39,
      timeoutMs: 0,
      // The platform's default sockets (native, lending packets, where built): the recording copies what it keeps.
      sockets: relaySockets('auto').sockets,
      recording: { store: createFolderStore(join(dir, 'store')), spoolDir: join(dir, 'spool') },
    });
    server = await createNgControlServer({ host: '127.0.0.1', port: 0, handlers: relay.handlers });
    ng = createNgClient({ host: '127.0.0.1', port: server.address().port, timeoutMs: 1000, retries: 1 });
    mediaRecordingChannel.subscribe(onEvent);
  });
  after(async () => {
    mediaRecordingChannel.unsubscribe(onEvent);
    for (const p of parties) p.close();
    await ng.close();
    await server.close();
    await relay.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('record call: a WAV per party (lost packets as silence) and a pcap of every packet, stored at delete', async () => {
    const a = await party();
    const b = await party();
    parties.push(a, b);
    const offer = await ng.request('offer', {
      'call-id': 'rec-1',
      'from-tag': 'caller',
      sdp: sdp(a.port),
      'record call': 'yes',
    });
    const answer = await ng.request('answer', {
      'call-id': 'rec-1',
      'from-tag': 'caller',
      'to-tag': 'callee',
      sdp: sdp(b.port),
    });
    for (let seq = 1; seq <= 10; seq++) {
      if (seq !== 4) a.socket.send(alaw(seq, 0xa, 0x11 + seq), mPort(answer.sdp), '127.0.0.1'); // 4 is lost
      b.socket.send(alaw(seq, 0xb, 0x55), mPort(offer.sdp), '127.0.0.1');
      // One at a time (each its own read of the socket), faster than the files are written: a recording that kept
      // the lent packet instead of a copy would write a later packet's bytes in place of this one.
      await new Promise((r) => setImmediate(r));
    }
    a.rtcp.send(rtcpRr(0xa), mPort(answer.sdp) + 1, '127.0.0.1');
    await until(() => b.got.length === 9 && a.got.length === 10 && b.gotRtcp.length === 1);
    await ng.request('delete', { 'call-id': 'rec-1' });
    await until(() => events.some((e) => e.callId === 'rec-1'));
    const event = events.find((e) => e.callId === 'rec-1')!;
    assert.ok('keys' in event, JSON.stringify(event));
    const day = new Date().toISOString().slice(0, 10);
    assert.deepEqual(event.keys.sort(), [
      `${day}/rec-1/call.pcap`,
      `${day}/rec-1/callee-1.wav`,
      `${day}/rec-1/caller-1.wav`,
      `${day}/rec-1/mixed.wav`,
    ]);

    const caller = wavInfo(await readFile(join(dir, 'store', day, 'rec-1', 'caller-1.wav')));
    assert.equal(caller.riff, 'RIFF');
    assert.equal(caller.format, 6, 'WAVE_FORMAT_ALAW');
    assert.equal(caller.rate, 8000);
    assert.equal(caller.dataBytes, 10 * 160, 'nine packets and one of silence');
    assert.equal(caller.data.length, caller.dataBytes);
    // Packet by packet, each whole (the relay's sockets lend it the packet; the files keep a copy).
    for (let seq = 1; seq <= 10; seq++) {
      const written = caller.data.subarray((seq - 1) * 160, seq * 160);
      const expected = seq === 4 ? 0xd5 : 0x11 + seq; // the lost packet is A-law silence
      assert.ok(
        written.every((byte) => byte === expected),
        `packet ${seq}: ${written.subarray(0, 4).toString('hex')}`,
      );
    }
    const callee = wavInfo(await readFile(join(dir, 'store', day, 'rec-1', 'callee-1.wav')));
    assert.equal(callee.dataBytes, 10 * 160);
    // Both parties in one 16-bit PCM file, each from where its first packet came (within a few ms here).
    const mixed = await readFile(join(dir, 'store', day, 'rec-1', 'mixed.wav'));
    assert.equal(mixed.toString('latin1', 0, 4), 'RIFF');
    assert.deepEqual(
      [mixed.readUInt16LE(20), mixed.readUInt16LE(22), mixed.readUInt32LE(24), mixed.readUInt16LE(34)],
      [1, 1, 8000, 16],
      'PCM, mono, 8 kHz, 16 bits',
    );
    const mixedBytes = mixed.readUInt32LE(40);
    assert.equal(mixed.length, 44 + mixedBytes);
    assert.ok(mixedBytes >= 2 * 10 * 160 && mixedBytes <= 2 * 12 * 160, `mixed data: ${mixedBytes} bytes`);
    // Every sample is the caller's, the callee's, or their sum: nothing else is in the mix.
    const callerSamples = [0xd5, ...Array.from({ length: 10 }, (_, i) => 0x12 + i)].map((c) =>
      g711ToLinear('alaw', c),
    );
    const calleeSample = g711ToLinear('alaw', 0x55);
    const possible = new Set([
      0,
      calleeSample,
      ...callerSamples,
      ...callerSamples.map((c) => c + calleeSample),
    ]);
    for (let i = 44; i < mixed.length; i += 2) assert.ok(possible.has(mixed.readInt16LE(i)), `sample ${i}`);
    assert.ok(
      [...Array(mixedBytes / 2).keys()].some(
        (k) => mixed.readInt16LE(44 + 2 * k) === callerSamples[5]! + calleeSample,
      ),
      'both parties heard at once',
    );

    const packets = pcapPackets(await readFile(join(dir, 'store', day, 'rec-1', 'call.pcap')));
    assert.equal(packets.length, 9 + 10 + 1, 'RTP both ways and the RTCP');
    assert.ok(packets.some((p) => p.payload[1] === 201 && p.dport === mPort(answer.sdp) + 1));
    assert.ok(packets.some((p) => p.payload.equals(alaw(10, 0xa, 0x11 + 10))));
    assert.deepEqual(await readdir(join(dir, 'spool')), [], 'nothing left in the spool');
  });

  test('start and stop recording by command; the reply of stop lists the stored files', async () => {
    const a = await party();
    const b = await party();
    parties.push(a, b);
    await ng.request('offer', { 'call-id': 'rec-2', 'from-tag': 'caller', sdp: sdp(a.port) });
    const answer = await ng.request('answer', {
      'call-id': 'rec-2',
      'from-tag': 'caller',
      'to-tag': 'callee',
      sdp: sdp(b.port),
    });
    a.socket.send(alaw(1, 0xa, 0x20), mPort(answer.sdp), '127.0.0.1'); // before: not recorded
    await until(() => b.got.length === 1);
    await ng.request('start recording', { 'call-id': 'rec-2' });
    a.socket.send(alaw(2, 0xa, 0x21), mPort(answer.sdp), '127.0.0.1');
    await until(() => b.got.length === 2);
    const stopped = await ng.request('stop recording', { 'call-id': 'rec-2' });
    a.socket.send(alaw(3, 0xa, 0x22), mPort(answer.sdp), '127.0.0.1'); // after: not recorded
    await until(() => b.got.length === 3);
    const keys = stopped.recordings as string[];
    assert.equal(keys.length, 3, 'the pcap, the one WAV and the mix');
    const wav = wavInfo(
      await readFile(join(dir, 'store', ...keys.find((k) => k.endsWith('.wav'))!.split('/'))),
    );
    assert.equal(wav.dataBytes, 160);
    assert.equal(wav.data[0], 0x21);
    await ng.request('delete', { 'call-id': 'rec-2' });
  });

  test('a recorded call the media timeout ended: the next stop recording gets its stored keys, once', async () => {
    const portMin = 49000 + 2 * Math.floor(Math.random() * 500);
    const idle = createMediaRelay({
      bindHost: '127.0.0.1',
      advertised: '127.0.0.1',
      portMin,
      portMax: portMin + 9,
      timeoutMs: 200,
      recording: { store: createFolderStore(join(dir, 'store')), spoolDir: join(dir, 'spool') },
    });
    const idleServer = await createNgControlServer({ host: '127.0.0.1', port: 0, handlers: idle.handlers });
    const client = createNgClient({ host: '127.0.0.1', port: idleServer.address().port, timeoutMs: 1000 });
    try {
      const a = await party();
      const b = await party();
      parties.push(a, b);
      await client.request('offer', { 'call-id': 'rec-t', 'from-tag': 'caller', sdp: sdp(a.port) });
      const answer = await client.request('answer', {
        'call-id': 'rec-t',
        'from-tag': 'caller',
        'to-tag': 'callee',
        sdp: sdp(b.port),
        'record call': 'yes',
      });
      a.socket.send(alaw(1, 0xa, 0x30), mPort(answer.sdp), '127.0.0.1');
      await until(() => b.got.length === 1);
      // No packet and no command for the timeout: the relay ends the call and stores the recording.
      await until(() => idle.calls === 0, 3000);
      const stopped = await client.request('stop recording', { 'call-id': 'rec-t' });
      const keys = (stopped.recordings as Buffer[]).map((k) => k.toString());
      assert.equal(keys.length, 3, keys.join());
      assert.ok(keys.every((k) => k.includes('/rec-t/')));
      const wav = wavInfo(
        await readFile(join(dir, 'store', ...keys.find((k) => k.endsWith('-1.wav'))!.split('/'))),
      );
      assert.equal(wav.data[0], 0x30);
      await assert.rejects(client.request('stop recording', { 'call-id': 'rec-t' }), /Unknown call-id/);
    } finally {
      await client.close();
      await idleServer.close();
      await idle.close();
    }
  });

  test('recording asked of a relay without a store: a warning on the offer, an error for the command', async () => {
    await assert.rejects(ng.request('start recording', { 'call-id': 'nope' }), /Unknown call-id/);
    const portMin = 47000 + 2 * Math.floor(Math.random() * 1000);
    const plain = createMediaRelay({
      bindHost: '127.0.0.1',
      advertised: '127.0.0.1',
      portMin,
      portMax: portMin + 9,
      timeoutMs: 0,
    });
    const plainServer = await createNgControlServer({ host: '127.0.0.1', port: 0, handlers: plain.handlers });
    const client = createNgClient({
      host: '127.0.0.1',
      port: plainServer.address().port,
      timeoutMs: 1000,
      retries: 0,
    });
    try {
      const offer = await client.request('offer', {
        'call-id': 'r',
        'from-tag': 'a',
        sdp: sdp(4000),
        'record call': 'yes',
      });
      assert.equal(offer.warning, 'Call recording not enabled', 'the call goes on, unrecorded');
      await assert.rejects(
        client.request('start recording', { 'call-id': 'r' }),
        (err: unknown) => err instanceof NgErrorReply && /Call recording not enabled/.test(err.message),
      );
      await client.request('delete', { 'call-id': 'r' });
      assert.equal(plain.portsInUse, 0);
    } finally {
      await client.close();
      await plainServer.close();
      plain.close();
    }
  });
});

describe('relay shutdown with recordings being stored', () => {
  test('close() ends the recorded calls and resolves once their files are stored, not before', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'voxgate-rec-close-'));
    const folder = createFolderStore(join(dir, 'store'));
    const stored: string[] = [];
    // A slow store (S3 across a network): each file takes 150 ms.
    const slow = {
      async putFile(key: string, path: string) {
        await new Promise((r) => setTimeout(r, 150));
        await folder.putFile(key, path);
        stored.push(key);
      },
    };
    const portMin = 47000 + 2 * Math.floor(Math.random() * 1000);
    const relay = createMediaRelay({
      bindHost: '127.0.0.1',
      advertised: '127.0.0.1',
      portMin,
      portMax: portMin + 19,
      timeoutMs: 0,
      recording: { store: slow, spoolDir: join(dir, 'spool') },
    });
    const server = await createNgControlServer({ host: '127.0.0.1', port: 0, handlers: relay.handlers });
    const ng = createNgClient({
      host: '127.0.0.1',
      port: server.address().port,
      timeoutMs: 1000,
      retries: 1,
    });
    const a = await party();
    try {
      const offer = await ng.request('offer', {
        'call-id': 'rec-close',
        'from-tag': 'caller',
        sdp: sdp(a.port),
        'record call': 'yes',
      });
      assert.ok(offer.sdp);
      await ng.close();
      await server.close();
      await relay.close();
      assert.equal(stored.length, 1, `the pcap was stored before close() resolved: ${stored.join(', ')}`);
      assert.match(stored[0]!, /rec-close\/call\.pcap$/);
      assert.deepEqual(await readdir(join(dir, 'spool')), [], 'nothing left in the spool');
    } finally {
      a.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
