import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { rtpHeaderLength } from '../rtp-header.js';
import { writeMixedWav } from './mixed-wav.js';
import type { ObjectStore } from './object-store.js';
import { PcapFile, type Endpoint } from './pcap-file.js';
import { WavFile, type G711Law } from './wav-file.js';

/** RFC 3551 static payload types of G.711: 0 = PCMU (µ-law), 8 = PCMA (A-law). */
const G711: ReadonlyMap<number, G711Law> = new Map([
  [0, 'ulaw'],
  [8, 'alaw'],
]);
/** The code of silence in each law (G.711: zero amplitude). */
const SILENCE: Record<G711Law, number> = { alaw: 0xd5, ulaw: 0xff };
/** Lost packets filled with silence at most, so that a sequence jump does not write minutes of nothing. */
const MAX_GAP = 50;

/** RFC 3550 §5.1: the payload after the fixed header, CSRCs, header extension; padding removed. */
function rtpPayload(packet: Buffer): Buffer | undefined {
  const offset = rtpHeaderLength(packet);
  if (offset === undefined) return undefined;
  let end = packet.length;
  if (packet[0]! & 0x20) end -= packet[packet.length - 1]!;
  return offset <= end ? packet.subarray(offset, end) : undefined;
}

const safe = (name: string) => name.replace(/[^A-Za-z0-9._@-]/g, '_').slice(0, 100) || '_';

interface Track {
  wav: WavFile;
  lastSeq: number;
  samplesPerPacket: number;
  /** When its first packet reached the relay (ms): where the track starts in the mixed file. */
  firstAtMs: number;
}

/**
 * One call's recording: every packet the relay receives goes to one pcap file, and the G.711 audio each
 * party sends to one WAV file per party and stream (lost packets as silence), and all of them mixed into
 * `mixed.wav` (16-bit PCM, each track placed where its first packet came). Files are spooled locally and
 * handed to the object store when the recording ends, under `<date>/<call-id>/`.
 */
export class CallRecorder {
  private readonly tracks = new Map<string, Track>();
  private readonly started = new Date();
  private finished: Promise<string[]> | undefined;

  private constructor(
    readonly callId: string,
    private readonly dir: string,
    private readonly pcap: PcapFile,
    private readonly store: ObjectStore,
  ) {}

  static async open(callId: string, spoolDir: string, store: ObjectStore): Promise<CallRecorder> {
    await mkdir(spoolDir, { recursive: true });
    const dir = await mkdtemp(join(spoolDir, 'rec-'));
    return new CallRecorder(callId, dir, new PcapFile(join(dir, 'call.pcap')), store);
  }

  /** A packet from `party` (its tag) on stream `index` (1-based), as it reached the relay. */
  packet(
    party: string,
    index: number,
    from: Endpoint,
    to: Endpoint,
    packet: Buffer,
    rtcp: boolean,
    atMs: number,
  ): void {
    if (this.finished) return;
    this.pcap.packet(atMs, from, to, packet);
    if (rtcp) return;
    const law = G711.get(packet[1]! & 0x7f);
    const payload = law && rtpPayload(packet);
    if (!law || !payload) return;
    const key = `${safe(party)}-${index}`;
    const seq = packet.readUInt16BE(2);
    let track = this.tracks.get(key);
    if (!track) {
      track = {
        wav: new WavFile(join(this.dir, `${key}.wav`), law),
        lastSeq: seq - 1,
        samplesPerPacket: payload.length,
        firstAtMs: atMs,
      };
      this.tracks.set(key, track);
    }
    const delta = (seq - track.lastSeq + 65536) % 65536;
    if (delta === 0 || delta >= 32768) return; // a duplicate or a late packet: its place is already written
    if (delta > 1 && delta <= MAX_GAP) {
      track.wav.append(Buffer.alloc((delta - 1) * track.samplesPerPacket, SILENCE[track.wav.law]));
    }
    track.lastSeq = seq;
    track.samplesPerPacket = payload.length;
    track.wav.append(payload);
  }

  /** Closes the files and stores them; resolves with their keys. Later packets are ignored. */
  finish(): Promise<string[]> {
    this.finished ??= (async () => {
      const prefix = `${this.started.toISOString().slice(0, 10)}/${safe(this.callId)}`;
      const keys: string[] = [];
      await this.pcap.close();
      for (const [, track] of this.tracks) await track.wav.close();
      // A store that fails (S3 unreachable) leaves the files in the spool directory: the recording is kept for
      // an operator to upload, never deleted unstored. The directory goes once everything is stored.
      await this.store.putFile(`${prefix}/call.pcap`, this.pcap.path);
      keys.push(`${prefix}/call.pcap`);
      const mixed = join(this.dir, 'mixed.wav');
      if (this.tracks.size > 0) {
        const first = Math.min(...[...this.tracks.values()].map((t) => t.firstAtMs));
        await writeMixedWav(
          mixed,
          [...this.tracks.values()].map((t) => ({
            path: t.wav.path,
            law: t.wav.law,
            samples: t.wav.dataBytes,
            offset: Math.round((t.firstAtMs - first) * 8),
          })),
        );
      }
      for (const [key, track] of this.tracks) {
        await this.store.putFile(`${prefix}/${key}.wav`, track.wav.path);
        keys.push(`${prefix}/${key}.wav`);
      }
      if (this.tracks.size > 0) {
        await this.store.putFile(`${prefix}/mixed.wav`, mixed);
        keys.push(`${prefix}/mixed.wav`);
      }
      await rm(this.dir, { recursive: true, force: true });
      return keys;
    })();
    return this.finished;
  }
}
