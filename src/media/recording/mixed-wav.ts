import { open } from 'node:fs/promises';
import { WAV_HEADER, wavHeader, type G711Law } from './wav-file.js';

/** ITU-T G.711 A-law code → 16-bit linear sample (the reference decoder's arithmetic). */
function alawSample(code: number): number {
  const a = code ^ 0x55;
  const segment = (a & 0x70) >> 4;
  let t = (a & 0x0f) << 4;
  t += segment === 0 ? 8 : 0x108;
  if (segment > 1) t <<= segment - 1;
  return a & 0x80 ? t : -t;
}

/** ITU-T G.711 µ-law code → 16-bit linear sample. */
function ulawSample(code: number): number {
  const u = ~code & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

const DECODE: Record<G711Law, Int16Array> = {
  alaw: Int16Array.from({ length: 256 }, (_, i) => alawSample(i)),
  ulaw: Int16Array.from({ length: 256 }, (_, i) => ulawSample(i)),
};

/** The linear sample of a G.711 code, for tests and the mixer. */
export function g711ToLinear(law: G711Law, code: number): number {
  return DECODE[law][code & 0xff]!;
}

const HEADER = WAV_HEADER;
/** Samples mixed per step: one second. */
const BLOCK = 8000;

/** 16-bit linear PCM (WAVE_FORMAT_PCM). */
const pcmHeader = (dataBytes: number) => wavHeader(1, dataBytes);

/** A G.711 WAV track to mix: its file, law, audio length, and where it starts in the mix (samples). */
export interface MixTrack {
  path: string;
  law: G711Law;
  samples: number;
  offset: number;
}

/**
 * Mixes G.711 WAV tracks into one 16-bit PCM WAV at `out` (8 kHz mono): each track decoded and placed at its
 * offset, the samples summed and clipped. Read and written a second at a time, whatever the call's length.
 */
export async function writeMixedWav(out: string, tracks: readonly MixTrack[]): Promise<void> {
  const total = Math.max(0, ...tracks.map((t) => t.offset + t.samples));
  const output = await open(out, 'w');
  const inputs = await Promise.all(tracks.map((t) => open(t.path, 'r')));
  try {
    await output.write(pcmHeader(total * 2), 0, HEADER, 0);
    const sum = new Int32Array(BLOCK);
    const codes = Buffer.alloc(BLOCK);
    const pcm = Buffer.alloc(BLOCK * 2);
    for (let start = 0; start < total; start += BLOCK) {
      const n = Math.min(BLOCK, total - start);
      sum.fill(0);
      for (let i = 0; i < tracks.length; i++) {
        const track = tracks[i]!;
        const from = Math.max(start, track.offset);
        const to = Math.min(start + n, track.offset + track.samples);
        if (from >= to) continue;
        const { bytesRead } = await inputs[i]!.read(codes, 0, to - from, HEADER + from - track.offset);
        const decode = DECODE[track.law];
        for (let k = 0; k < bytesRead; k++) sum[from - start + k]! += decode[codes[k]!]!;
      }
      for (let k = 0; k < n; k++) pcm.writeInt16LE(Math.max(-32768, Math.min(32767, sum[k]!)), k * 2);
      await output.write(pcm, 0, n * 2, HEADER + start * 2);
    }
  } finally {
    await Promise.all(inputs.map((f) => f.close()));
    await output.close();
  }
}
