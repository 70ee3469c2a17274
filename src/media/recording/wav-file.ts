import { createWriteStream, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';

/** G.711 in WAV: WAVE_FORMAT_ALAW (6) or WAVE_FORMAT_MULAW (7), 8,000 samples/s, one channel, 8 bits. */
export type G711Law = 'alaw' | 'ulaw';

/** The canonical WAV header's length (RIFF, a 16-byte fmt chunk, the data chunk's header). */
export const WAV_HEADER = 44;

/**
 * A mono 8 kHz WAV header: `format` 1 (PCM, 16 bits a sample) or 6/7 (G.711 A-law/µ-law, 8 bits), for
 * `dataBytes` of audio.
 */
export function wavHeader(format: 1 | 6 | 7, dataBytes: number): Buffer {
  const bits = format === 1 ? 16 : 8;
  const block = bits / 8;
  const h = Buffer.alloc(WAV_HEADER);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(format, 20);
  h.writeUInt16LE(1, 22); // channels
  h.writeUInt32LE(8000, 24); // samples per second
  h.writeUInt32LE(8000 * block, 28); // bytes per second
  h.writeUInt16LE(block, 32); // block align
  h.writeUInt16LE(bits, 34); // bits per sample
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

const header = (law: G711Law, dataBytes: number) => wavHeader(law === 'alaw' ? 6 : 7, dataBytes);
const HEADER = WAV_HEADER;

/** A WAV file written as the audio comes; the sizes in its header are set when it is closed. */
export class WavFile {
  private readonly out: WriteStream;
  private bytes = 0;

  constructor(
    readonly path: string,
    readonly law: G711Law,
  ) {
    this.out = createWriteStream(path);
    this.out.on('error', () => undefined); // surfaced by close()
    this.out.write(header(law, 0));
  }

  get dataBytes(): number {
    return this.bytes;
  }

  append(samples: Buffer): void {
    this.bytes += samples.length;
    this.out.write(samples);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.out.once('error', reject);
      this.out.end(resolve);
    });
    const file = await open(this.path, 'r+');
    try {
      await file.write(header(this.law, this.bytes), 0, HEADER, 0);
    } finally {
      await file.close();
    }
  }
}
