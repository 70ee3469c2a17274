import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Audio for the interop checks: a tone as a WAV file (what a client plays as its microphone), G.711 both ways
 * (what the far end sends and decodes), WAV reading (what a client recorded) and a Goertzel tone detector.
 * A check "hears" a tone when it dominates the signal in enough 20 ms frames — speech codecs (Opus, Speex) and
 * resampling keep a pure tone's frequency, so the same detector serves every codec.
 */

/** The tone each side plays, chosen away from the DTMF frequencies (697-1633 Hz) and from each other. */
export const CLIENT_TONE_HZ = 500;
export const FAR_END_TONE_HZ = 2000;

export function sine(
  hz: number,
  sampleRate: number,
  samples: number,
  offset = 0,
  amplitude = 8000,
): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * (offset + i)) / sampleRate));
  }
  return out;
}

/** A mono 16-bit PCM WAV of `seconds` of a `hz` tone. */
export function writeToneWav(path: string, hz: number, seconds = 60, sampleRate = 8000): void {
  writeWav(path, sine(hz, sampleRate, Math.round(seconds * sampleRate)), sampleRate);
}

/** Writes mono 16-bit PCM `samples` as a WAV file. */
export function writeWav(path: string, samples: Int16Array, sampleRate: number): void {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + samples.byteLength, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(samples.byteLength, 40);
  writeFileSync(
    path,
    Buffer.concat([header, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)]),
  );
}

export interface Pcm {
  readonly sampleRate: number;
  /** The first channel. */
  readonly samples: Int16Array;
}

/** Reads a 16-bit PCM WAV (any rate, first channel kept); walks the chunks, tolerating a wrong data size. */
export function readWav(path: string): Pcm {
  const buf = readFileSync(path);
  if (buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw new Error(`${path}: not a WAV file`);
  }
  let at = 12;
  let channels = 1;
  let sampleRate = 8000;
  let bits = 16;
  while (at + 8 <= buf.length) {
    const id = buf.toString('latin1', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(body + 2);
      sampleRate = buf.readUInt32LE(body + 4);
      bits = buf.readUInt16LE(body + 14);
    } else if (id === 'data') {
      if (bits !== 16) throw new Error(`${path}: ${bits}-bit samples, expected 16`);
      const end = size === 0 || body + size > buf.length ? buf.length : body + size;
      const frames = Math.floor((end - body) / (2 * channels));
      const samples = new Int16Array(frames);
      for (let i = 0; i < frames; i++) samples[i] = buf.readInt16LE(body + i * 2 * channels);
      return { sampleRate, samples };
    }
    at = body + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk`);
}

/** G.711 μ-law byte → linear sample (ITU-T G.711). */
export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

/** G.711 A-law byte → linear sample. */
export function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  const exponent = (a & 0x70) >> 4;
  let t = (a & 0x0f) << 4;
  t = exponent === 0 ? t + 8 : (t + 0x108) << (exponent - 1);
  return a & 0x80 ? t : -t;
}

const ULAW_BIAS = 0x84;

export function linearToUlaw(sample: number): number {
  const sign = sample < 0 ? 0x80 : 0;
  let magnitude = Math.min(Math.abs(sample), 32635) + ULAW_BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  magnitude = ~(sign | (exponent << 4) | mantissa) & 0xff;
  return magnitude;
}

export function linearToAlaw(sample: number): number {
  // G.711 A-law works on 13-bit magnitudes: segment = position of the highest bit, 4 mantissa bits below it.
  let value = sample >> 3;
  let mask = 0xd5;
  if (value < 0) {
    mask = 0x55;
    value = -value - 1;
  }
  let segment = 0;
  while (segment < 8 && value > (0x20 << segment) - 1) segment++;
  if (segment >= 8) return 0x7f ^ mask;
  const mantissa = (segment < 2 ? value >> 1 : value >> segment) & 0x0f;
  return ((segment << 4) | mantissa) ^ mask;
}

/** Power of `hz` in `frame` relative to the frame's total power (0..1), by the Goertzel algorithm. */
export function toneShare(frame: ArrayLike<number>, hz: number, sampleRate: number): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * hz) / sampleRate);
  let s1 = 0;
  let s2 = 0;
  let total = 0;
  for (let i = 0; i < frame.length; i++) {
    const x = frame[i]!;
    total += x * x;
    const s0 = x + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  if (total === 0) return 0;
  const power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
  // A pure tone filling the frame gives power ≈ total · N / 2.
  return Math.min(1, (2 * power) / (total * frame.length));
}

/** How many 20 ms frames of `pcm` carry mainly the `hz` tone (share ≥ 0.5, not near silence). */
export function toneFrames(pcm: Pcm, hz: number): number {
  const size = Math.round(pcm.sampleRate / 50);
  let frames = 0;
  for (let at = 0; at + size <= pcm.samples.length; at += size) {
    const frame = pcm.samples.subarray(at, at + size);
    let peak = 0;
    for (let i = 0; i < frame.length; i++) peak = Math.max(peak, Math.abs(frame[i]!));
    if (peak >= 300 && toneShare(frame, hz, pcm.sampleRate) >= 0.5) frames++;
  }
  return frames;
}

/** True when `pcm` carries the tone for at least `seconds` in all (1 s by default: 50 frames). */
export function hears(pcm: Pcm, hz: number, seconds = 1): boolean {
  return toneFrames(pcm, hz) >= seconds * 50;
}
