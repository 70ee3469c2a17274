// Recordings end to end: calls through the gateway with media anchored on voxgate's relay recording into a
// folder object store, the gateway listing each stored recording (store row, recording.ready event), and the
// API — sharing only the store, shared state and the object store with the gateway, as separate processes
// would — listing them, streaming their WAV files and deleting them; on-demand recording started and stopped
// through the API and carried out by the replica holding the call (the call command stream).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { followCallCommands, followPlacedCalls } from '../../src/gateway/index.js';
import { g711ToLinear } from '../../src/media/index.js';
import type { SipRequest } from '../../src/sip/index.js';
import {
  createCdrRepository,
  createFolderStore,
  createRecordingRepository,
  createTenantRepository,
  RECORDING_EVENTS_STREAM,
  webhookEventOfEntry,
  type CallCommand,
  type ObjectStore,
  type RecordingPolicy,
} from '../../src/store/index.js';
import { startApiApp, type ApiApp } from '../helpers/api-app.js';
import { endedEvent, phoneBook, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { relaySkip, startRelay, type RunningRelay } from '../helpers/relays.js';
import { sdp } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };
const PACKETS = 25;

async function until<T>(read: () => Promise<T | undefined>, what: string, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no ${what}`);
}

/** 20 ms of A-law audio whose bytes say who sent it and which packet it is (no byte is A-law silence, 0xd5). */
function payload(who: number, seq: number): Buffer {
  const p = Buffer.alloc(160);
  for (let i = 0; i < 160; i++) p[i] = (who * 64 + seq * 3 + i) % 0xd5;
  return p;
}

function rtp(who: number, seq: number, ssrc: number): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = 8; // PCMA
  header.writeUInt16BE(seq, 2);
  header.writeUInt32BE(seq * 160, 4);
  header.writeUInt32BE(ssrc, 8);
  return Buffer.concat([header, payload(who, seq)]);
}

async function rtpSocket(): Promise<{ socket: Socket; port: number; received: Buffer[] }> {
  const socket = createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (m) => received.push(m));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, received };
}

const mediaPort = (body: Buffer) => Number(/^m=audio (\d+) /m.exec(body.toString('latin1'))?.[1]);

/** G.711 A-law encoding of a 16-bit sample (ITU-T G.711: segment, then the 4 bits under it, even bits inverted). */
function alawOf(sample: number): number {
  const sign = sample >= 0 ? 0x80 : 0;
  let magnitude = Math.min(Math.abs(sample), 32767) >> 3;
  let segment = 0;
  if (magnitude >= 32) {
    segment = 1;
    while (magnitude >= 64 && segment < 7) {
      magnitude >>= 1;
      segment++;
    }
    magnitude &= 0x1f;
  }
  const code = segment === 0 ? magnitude >> 1 : (segment << 4) | ((magnitude >> 1) & 0x0f);
  return (sign | code) ^ 0x55;
}

/** RTP packets of a 1 kHz tone (A-law, 20 ms each, amplitude 8000). */
function tonePacket(seq: number, ssrc: number): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = 8;
  header.writeUInt16BE(seq, 2);
  header.writeUInt32BE(seq * 160, 4);
  header.writeUInt32BE(ssrc, 8);
  const audio = Buffer.alloc(160);
  for (let i = 0; i < 160; i++)
    audio[i] = alawOf(Math.round(8000 * Math.sin((2 * Math.PI * 1000 * (seq * 160 + i)) / 8000)));
  return Buffer.concat([header, audio]);
}

/** Goertzel: the power of `hz` in 16-bit samples at 8 kHz. */
function power(samples: Int16Array, hz: number): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / 8000);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - k * s1 * s2;
}

interface RecordingView {
  id: string;
  callId: string;
  files: { name: string; type: string }[];
}

describe("recordings through the gateway, voxgate's relay and the API", () => {
  let dir: string;
  let store: ObjectStore;
  let relay: RunningRelay;
  let gw: GatewayHarness;
  let api: ApiApp;
  let operator: string;
  let viewer: string;
  let otherOperator: string;
  let otherTenant: string;
  let follower: { stop(): Promise<void> };
  let placed: { stop(): Promise<void> };
  const carried: { command: CallCommand; done: boolean; refused?: string }[] = [];
  const phones = phoneBook(() => gw);
  const sockets: Socket[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'voxgate-recordings-'));
    store = createFolderStore(join(dir, 'store'));
    relay = await startRelay('voxgate', 0, { store, spoolDir: join(dir, 'spool') });
    gw = await startGateway({
      timers: FAST,
      relays: [{ host: '127.0.0.1', port: relay.ngPort }],
      recordings: true,
    });
    api = await startApiApp(gw.db, { state: gw.state, recordings: store });
    operator = await api.key(gw.tenantId, 'operator');
    viewer = await api.key(gw.tenantId, 'viewer');
    otherTenant = await api.tenant('Other');
    otherOperator = await api.key(otherTenant, 'operator');
    follower = followCallCommands({
      events: gw.state.events,
      b2bua: gw.gateway.b2bua,
      gatewayId: 'test-gateway',
      group: 'gateway-calls:test-gateway',
      onCommand: (command, done, refused) => carried.push({ command, done, ...(refused ? { refused } : {}) }),
      onError: (err) => assert.fail(String(err)),
      blockMs: 50,
    });
    placed = followPlacedCalls({
      events: gw.state.events,
      b2bua: gw.gateway.b2bua,
      consumer: 'test-gateway',
      onError: (err) => assert.fail(String(err)),
      blockMs: 50,
    });
  });
  afterEach(async () => {
    await phones.reset();
    for (const s of sockets.splice(0)) s.close();
  });
  after(async () => {
    await follower?.stop();
    await placed?.stop();
    await api?.app.close();
    await gw?.close();
    await relay?.stop();
    store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const policy = (recording: RecordingPolicy) =>
    createTenantRepository(gw.db).update(gw.tenantId, { recording });
  const base = () => `/v1/tenants/${gw.tenantId}`;
  const liveCall = (callId: string) =>
    api
      .call(operator, 'GET', `${base()}/calls/live`)
      .then((res) =>
        res
          .json<{ items: { callId: string; recording: boolean; recordingPolicy?: string }[] }>()
          .items.find((c) => c.callId === callId),
      );
  const recordingsOf = async (callId: string) =>
    (await api.call(operator, 'GET', `${base()}/recordings?callId=${encodeURIComponent(callId)}`)).json<{
      items: RecordingView[];
    }>().items;

  /** An answered call alice → bob with RTP sockets on both sides, and the relay ports each one sends to. */
  async function answeredCall(tag: string) {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const aliceRtp = await rtpSocket();
    const bobRtp = await rtpSocket();
    sockets.push(aliceRtp.socket, bobRtp.socket);
    const call = await alice.invite('bob', sdp(aliceRtp.port));
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', tag, {}, sdp(bobRtp.port, 7));
    const ok = await call.final();
    assert.equal(ok.status, 200);
    call.ack();
    await bob.request('ACK');
    const toRelayFromAlice = mediaPort(ok.body);
    const toRelayFromBob = mediaPort(invite.body);
    /** Sends packets `from`..`to` each way, 10 ms apart, and waits until the other side got them. */
    const talk = async (from: number, to: number) => {
      const before = { alice: aliceRtp.received.length, bob: bobRtp.received.length };
      for (let seq = from; seq <= to; seq++) {
        aliceRtp.socket.send(rtp(1, seq, 0xa11ce), toRelayFromAlice, '127.0.0.1');
        bobRtp.socket.send(rtp(2, seq, 0xb0b), toRelayFromBob, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 10));
      }
      const n = to - from + 1;
      await until(
        async () =>
          bobRtp.received.length - before.bob >= n && aliceRtp.received.length - before.alice >= n
            ? true
            : undefined,
        'RTP through the relay',
      );
    };
    const hangUp = async () => {
      call.send('BYE');
      bob.reply(await bob.request('BYE'), 200, 'OK', tag);
    };
    return { call, talk, hangUp };
  }

  /** The WAV file `name` of a recording, through the API; its header checked, its audio returned. */
  async function wav(recordingId: string, name: string): Promise<Buffer> {
    const res = await api.call(
      viewer,
      'GET',
      `${base()}/recordings/${recordingId}/audio?file=${encodeURIComponent(name)}`,
    );
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'audio/wav');
    const body = res.rawPayload;
    assert.equal(Number(res.headers['content-length']), body.length);
    assert.equal(body.toString('latin1', 0, 4), 'RIFF');
    assert.equal(body.toString('latin1', 8, 16), 'WAVEfmt ');
    assert.equal(body.readUInt16LE(20), 6, 'WAVE_FORMAT_ALAW');
    assert.equal(body.readUInt16LE(22), 1, 'mono');
    assert.equal(body.readUInt32LE(24), 8000, '8 kHz');
    assert.equal(body.toString('latin1', 36, 40), 'data');
    const dataBytes = body.readUInt32LE(40);
    assert.equal(body.readUInt32LE(4), 36 + dataBytes);
    assert.equal(body.length, 44 + dataBytes);
    return body.subarray(44);
  }

  const expectedAudio = (who: number, from: number, to: number) =>
    Buffer.concat(Array.from({ length: to - from + 1 }, (_, i) => payload(who, from + i)));

  test('policy always: recorded from the setup; listed after the call, both parties downloadable as WAV', async () => {
    await policy('always');
    const { call, talk, hangUp } = await answeredCall('rec1');
    const live = await until(
      async () => ((await liveCall(call.callId))?.recording ? await liveCall(call.callId) : undefined),
      'live call recording',
    );
    assert.equal(live.recordingPolicy, 'always');
    await talk(1, PACKETS);
    await hangUp();

    const [recording] = await until(async () => {
      const items = await recordingsOf(call.callId);
      return items.length > 0 ? items : undefined;
    }, 'recording listed');
    assert.ok(recording);
    assert.equal(recording.callId, call.callId);
    const names = recording.files.map((f) => f.name).sort();
    assert.equal(names.length, 4, names.join());
    assert.ok(names.includes('call.pcap'));
    assert.ok(names.includes('mixed.wav'));
    const aliceFile = `${call.fromTag}-1.wav`;
    assert.ok(names.includes(aliceFile), `${aliceFile} in ${names.join()}`);
    const bobFile = names.find((n) => n.endsWith('.wav') && n !== aliceFile && n !== 'mixed.wav')!;

    // What each party sent, byte for byte: 25 packets of 20 ms, 0.5 s of audio each.
    assert.deepEqual(await wav(recording.id, aliceFile), expectedAudio(1, 1, PACKETS));
    assert.deepEqual(await wav(recording.id, bobFile), expectedAudio(2, 1, PACKETS));
    const pcap = await api.call(viewer, 'GET', `${base()}/recordings/${recording.id}/audio?file=call.pcap`);
    assert.equal(pcap.statusCode, 200);
    assert.equal(pcap.rawPayload.readUInt32LE(0), 0xa1b2c3d4, 'a pcap file');

    // The default download: both parties mixed, 16-bit PCM; each sample the sum of what they sent.
    const mixed = await api.call(viewer, 'GET', `${base()}/recordings/${recording.id}/audio`);
    assert.equal(mixed.statusCode, 200);
    assert.equal(mixed.headers['content-type'], 'audio/wav');
    const pcm = mixed.rawPayload;
    assert.deepEqual([pcm.readUInt16LE(20), pcm.readUInt16LE(34), pcm.readUInt32LE(24)], [1, 16, 8000]);
    const samples = pcm.readUInt32LE(40) / 2;
    assert.ok(samples >= PACKETS * 160 && samples < PACKETS * 160 + 8 * 40, `${samples} samples`);
    const aliceHeard = expectedAudio(1, 1, PACKETS);
    const bobHeard = expectedAudio(2, 1, PACKETS);
    const clip = (v: number) => Math.max(-32768, Math.min(32767, v));
    const lag = samples - PACKETS * 160; // whose first packet came later, by this much (at most a few ms)
    const matches = (aLag: number, bLag: number) =>
      [...Array(PACKETS * 160 - lag).keys()].every((k) => {
        const s = k + lag;
        return (
          pcm.readInt16LE(44 + 2 * s) ===
          clip(g711ToLinear('alaw', aliceHeard[s - aLag]!) + g711ToLinear('alaw', bobHeard[s - bLag]!))
        );
      });
    assert.ok(matches(0, lag) || matches(lag, 0), 'the mix is the sum of both parties, aligned');

    const meta = await api.call(viewer, 'GET', `${base()}/recordings/${recording.id}`);
    assert.equal(meta.statusCode, 200);
    assert.deepEqual(
      meta
        .json<RecordingView>()
        .files.map((f) => f.type)
        .sort(),
      ['application/vnd.tcpdump.pcap', 'audio/wav', 'audio/wav', 'audio/wav'],
    );

    // recording.ready: published once the row is there, for the worker's webhooks.
    const entries = await gw.state.events.consume(RECORDING_EVENTS_STREAM, 'test-always', 'c', { count: 10 });
    const ready = entries
      .map((e) => webhookEventOfEntry(RECORDING_EVENTS_STREAM, e))
      .find((e) => e.data.recordingId === recording.id);
    assert.ok(ready, 'a recording.ready event');
    assert.equal(ready.type, 'recording.ready');
    assert.equal(ready.tenantId, gw.tenantId);

    // The CDR names its recordings.
    const ended = await endedEvent(gw, 'rec-always', (e) => e.callId === call.callId);
    await createCdrRepository(gw.db).upsertFromEvent(ended);
    const cdr = await api.call(viewer, 'GET', `${base()}/calls/${encodeURIComponent(call.callId)}`);
    assert.deepEqual(cdr.json<{ recordingIds: string[] }>().recordingIds, [recording.id]);

    // Other tenants see nothing; viewers cannot delete; an operator deletes files and row.
    assert.equal(
      (await api.call(otherOperator, 'GET', `${base()}/recordings/${recording.id}`)).statusCode,
      404,
    );
    assert.equal(
      (await api.call(otherOperator, 'GET', `/v1/tenants/${otherTenant}/recordings/${recording.id}/audio`))
        .statusCode,
      404,
    );
    assert.equal((await api.call(viewer, 'DELETE', `${base()}/recordings/${recording.id}`)).statusCode, 403);
    const keysBefore = await store.list('');
    assert.ok(keysBefore.some((k) => k.endsWith(aliceFile)));
    assert.equal(
      (await api.call(operator, 'DELETE', `${base()}/recordings/${recording.id}`)).statusCode,
      204,
    );
    assert.equal((await api.call(operator, 'GET', `${base()}/recordings/${recording.id}`)).statusCode, 404);
    assert.ok(!(await store.list('')).some((k) => k.includes(aliceFile)), 'its files are gone');
  });

  test('policy on-demand: started and stopped through the API on a live call; 403 viewer, 404 other tenant', async () => {
    await policy('on-demand');
    const { call, talk, hangUp } = await answeredCall('rec2');
    const url = `${base()}/calls/live/${encodeURIComponent(call.callId)}/recording`;
    const live = await until(() => liveCall(call.callId), 'live call');
    assert.deepEqual([live.recording, live.recordingPolicy], [false, 'on-demand']);
    await talk(1, 5); // before the start: not recorded

    assert.equal((await api.call(viewer, 'POST', url)).statusCode, 403);
    assert.equal((await api.call(otherOperator, 'POST', url)).statusCode, 404);
    assert.equal(
      (
        await api.call(
          otherOperator,
          'POST',
          `/v1/tenants/${otherTenant}/calls/live/${encodeURIComponent(call.callId)}/recording`,
        )
      ).statusCode,
      404,
    );
    const audited = await api.auditCount();
    const started = await api.call(operator, 'POST', url);
    assert.equal(started.statusCode, 202, started.body);
    assert.deepEqual(started.json(), { callId: call.callId, recording: 'start', gateway: 'test-gateway' });
    assert.equal(await api.auditCount(), audited + 1);
    await until(async () => ((await liveCall(call.callId))?.recording ? true : undefined), 'recording on');
    await talk(6, 15);
    const stopped = await api.call(operator, 'DELETE', url);
    assert.equal(stopped.statusCode, 202, stopped.body);
    await until(async () => ((await liveCall(call.callId))?.recording === false ? true : undefined), 'off');

    // Listed while the call goes on: the audio between start and stop only.
    const [recording] = await until(async () => {
      const items = await recordingsOf(call.callId);
      return items.length > 0 ? items : undefined;
    }, 'recording listed');
    assert.ok(recording);
    const aliceAudio = await wav(recording.id, `${call.fromTag}-1.wav`);
    assert.deepEqual(aliceAudio, expectedAudio(1, 6, 15));
    // The default file is a WAV.
    const audio = await api.call(viewer, 'GET', `${base()}/recordings/${recording.id}/audio`);
    assert.equal(audio.headers['content-type'], 'audio/wav');

    await talk(16, 20);
    await hangUp();
    await endedEvent(gw, 'rec-on-demand', (e) => e.callId === call.callId);
    assert.equal((await recordingsOf(call.callId)).length, 1, 'nothing more recorded after the stop');
    assert.deepEqual(
      carried.filter((c) => c.command.callId === call.callId).map((c) => c.done),
      [true, true],
    );
  });

  test("a user's policy wins over the tenant's: alice set to always through the API, tenant off", async () => {
    await policy('off');
    const users = (await api.call(operator, 'GET', `${base()}/users`)).json<{
      items: { id: string; username: string; recording: string | null }[];
    }>().items;
    const alice = users.find((u) => u.username === 'alice')!;
    assert.equal(alice.recording, null, 'a user inherits by default');
    const set = await api.call(operator, 'PATCH', `${base()}/users/${alice.id}`, { recording: 'always' });
    assert.equal(set.statusCode, 200, set.body);
    assert.equal(set.json<{ recording: string }>().recording, 'always');
    assert.equal(
      (await api.call(operator, 'PATCH', `${base()}/users/${alice.id}`, { recording: 'sometimes' }))
        .statusCode,
      400,
    );
    try {
      const { call, talk, hangUp } = await answeredCall('rec4');
      const live = await until(() => liveCall(call.callId), 'live call');
      assert.equal(live.recordingPolicy, 'always');
      await talk(1, 5);
      await hangUp();
      const [recording] = await until(async () => {
        const items = await recordingsOf(call.callId);
        return items.length > 0 ? items : undefined;
      }, 'recording listed');
      assert.deepEqual(await wav(recording!.id, `${call.fromTag}-1.wav`), expectedAudio(1, 1, 5));
    } finally {
      const back = await api.call(operator, 'PATCH', `${base()}/users/${alice.id}`, { recording: null });
      assert.equal(back.json<{ recording: null }>().recording, null);
    }
  });

  test('a call placed through the API (click-to-call) with policy always is recorded and listed too', async () => {
    await policy('always');
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const res = await api.call(operator, 'POST', `${base()}/calls`, { from: 'alice', to: 'bob' });
    assert.equal(res.statusCode, 202, res.body);
    const { callId } = res.json<{ callId: string }>();
    const toAlice = (await alice.request('INVITE')) as SipRequest;
    const aliceRtp = await rtpSocket();
    const bobRtp = await rtpSocket();
    sockets.push(aliceRtp.socket, bobRtp.socket);
    alice.reply(toAlice, 200, 'OK', 'c2c-a', {}, sdp(aliceRtp.port, 3));
    await alice.request('ACK');
    const toBob = (await bob.request('INVITE')) as SipRequest;
    bob.reply(toBob, 200, 'OK', 'c2c-b', {}, sdp(bobRtp.port, 4));
    await bob.request('ACK');
    const live = await until(async () => {
      const c = await liveCall(callId);
      return c?.recording ? c : undefined;
    }, 'placed call recorded');
    assert.equal(live.recordingPolicy, 'always');
    for (let seq = 1; seq <= 10; seq++) {
      aliceRtp.socket.send(rtp(1, seq, 0xa1), mediaPort(toAlice.body), '127.0.0.1');
      bobRtp.socket.send(rtp(2, seq, 0xb1), mediaPort(toBob.body), '127.0.0.1');
      await new Promise((r) => setTimeout(r, 10));
    }
    await until(
      async () => (aliceRtp.received.length >= 10 && bobRtp.received.length >= 10 ? true : undefined),
      'RTP through the relay',
    );
    const end = await api.call(operator, 'DELETE', `${base()}/calls/live/${encodeURIComponent(callId)}`);
    assert.equal(end.statusCode, 202, end.body);
    const [byeA, byeB] = await Promise.all([alice.request('BYE'), bob.request('BYE')]);
    alice.reply(byeA, 200, 'OK', 'c2c-a');
    bob.reply(byeB, 200, 'OK', 'c2c-b');
    const [recording] = await until(async () => {
      const items = await recordingsOf(callId);
      return items.length > 0 ? items : undefined;
    }, 'recording listed');
    const parties = recording!.files.filter((f) => f.name.endsWith('-1.wav')).map((f) => f.name);
    assert.equal(parties.length, 2, parties.join());
    const heard = await Promise.all(parties.map((name) => wav(recording!.id, name)));
    assert.ok(
      heard.some((audio) => audio.equals(expectedAudio(1, 1, 10))),
      "alice's audio",
    );
    assert.ok(
      heard.some((audio) => audio.equals(expectedAudio(2, 1, 10))),
      "bob's audio",
    );
  });

  test('a tone sent by one party is heard in the mixed recording (Goertzel: 1 kHz, not 500 Hz or 2 kHz)', async () => {
    await policy('always');
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const aliceRtp = await rtpSocket();
    const bobRtp = await rtpSocket();
    sockets.push(aliceRtp.socket, bobRtp.socket);
    const call = await alice.invite('bob', sdp(aliceRtp.port));
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'rec-tone', {}, sdp(bobRtp.port, 7));
    const ok = await call.final();
    call.ack();
    await bob.request('ACK');
    for (let seq = 1; seq <= 50; seq++) {
      aliceRtp.socket.send(tonePacket(seq, 0x70e), mediaPort(ok.body), '127.0.0.1');
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(async () => (bobRtp.received.length >= 50 ? true : undefined), 'the tone through the relay');
    call.send('BYE');
    bob.reply(await bob.request('BYE'), 200, 'OK', 'rec-tone');
    const [recording] = await until(async () => {
      const items = await recordingsOf(call.callId);
      return items.length > 0 ? items : undefined;
    }, 'recording listed');
    const res = await api.call(viewer, 'GET', `${base()}/recordings/${recording!.id}/audio`);
    assert.equal(res.statusCode, 200);
    const pcm = res.rawPayload;
    const samples = new Int16Array(pcm.readUInt32LE(40) / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = pcm.readInt16LE(44 + 2 * i);
    assert.equal(samples.length, 50 * 160, 'one second of audio');
    const tone = power(samples, 1000);
    assert.ok(tone > 100 * power(samples, 500), 'the tone, not 500 Hz');
    assert.ok(tone > 100 * power(samples, 2000), 'the tone, not 2 kHz');
  });

  test('policy off: the API cannot start a recording (409), and nothing is recorded', async () => {
    await policy('off');
    const { call, talk, hangUp } = await answeredCall('rec3');
    await until(() => liveCall(call.callId), 'live call');
    const refused = await api.call(
      operator,
      'POST',
      `${base()}/calls/live/${encodeURIComponent(call.callId)}/recording`,
    );
    assert.equal(refused.statusCode, 409, refused.body);
    await talk(1, 3);
    await hangUp();
    await endedEvent(gw, 'rec-off', (e) => e.callId === call.callId);
    assert.deepEqual(await recordingsOf(call.callId), []);
    assert.equal(
      (await api.call(operator, 'POST', `${base()}/calls/live/${encodeURIComponent(call.callId)}/recording`))
        .statusCode,
      404,
      'no live call any more',
    );
  });
});

// RTPengine takes the same ng commands (record call on the offer, start/stop recording) and answers them `ok`,
// but keeps its files in its own --recording-dir (none here: it logs that it cannot) and its stop recording
// names none: the call goes on, the live call says it is recorded, and nothing is listed.
describe('recording policy always against RTPengine', { skip: relaySkip('rtpengine') }, () => {
  let relay: RunningRelay;
  let gw: GatewayHarness;
  const phones = phoneBook(() => gw);
  before(async () => {
    relay = await startRelay('rtpengine');
    gw = await startGateway({
      timers: FAST,
      relays: [{ host: '127.0.0.1', port: relay.ngPort }],
      recordings: true,
    });
    await createTenantRepository(gw.db).update(gw.tenantId, { recording: 'always' });
  });
  after(async () => {
    await phones.reset();
    await gw?.close();
    await relay?.stop();
  });

  test('the call is set up and ends normally; no recording is listed', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const call = await alice.invite('bob', sdp(43400));
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'rtpe1', {}, sdp(43402, 7));
    assert.equal((await call.final()).status, 200);
    call.ack();
    await bob.request('ACK');
    const live = await until(async () => {
      const c = await gw.state.calls.get(call.callId);
      return c?.state === 'answered' && c.recording ? c : undefined;
    }, 'live call recorded');
    assert.equal(live.recordingPolicy, 'always');
    call.send('BYE');
    bob.reply(await bob.request('BYE'), 200, 'OK', 'rtpe1');
    const ended = await endedEvent(gw, 'rtpe-rec', (e) => e.callId === call.callId);
    assert.equal(ended.disposition, 'answered');
    assert.deepEqual(await createRecordingRepository(gw.db).list(gw.tenantId, { limit: 10 }), []);
  });
});
