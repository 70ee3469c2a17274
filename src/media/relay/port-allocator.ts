import { dgramSockets, type RelaySocket, type RelaySockets } from './relay-socket.js';

/** Two sockets on consecutive ports: RTP on the even one, RTCP on the next (RFC 3550 §11). */
export interface PortPair {
  readonly port: number;
  readonly rtp: RelaySocket;
  readonly rtcp: RelaySocket;
}

export class PortRangeExhaustedError extends Error {
  override readonly name = 'PortRangeExhaustedError';
  readonly code = 'MEDIA_PORTS_EXHAUSTED';
}

/**
 * Hands out RTP/RTCP port pairs from [min, max] round-robin, so a port just freed is not reused at once (late
 * packets of the old call would reach the new one). A port another process holds is skipped.
 */
export class PortAllocator {
  private readonly first: number;
  private next: number;
  private readonly used = new Set<number>();

  constructor(
    private readonly host: string,
    private readonly min: number,
    private readonly max: number,
    private readonly sockets: RelaySockets = dgramSockets,
  ) {
    this.first = min % 2 === 0 ? min : min + 1;
    this.next = this.first;
  }

  get inUse(): number {
    return this.used.size;
  }

  /** Pairs in the range: even RTP ports from the first even port to max - 1. */
  get capacity(): number {
    return this.max - 1 >= this.first ? Math.floor((this.max - 1 - this.first) / 2) + 1 : 0;
  }

  async allocate(): Promise<PortPair> {
    for (let tried = 0; tried < this.capacity; tried++) {
      const port = this.next;
      this.next = port + 2 > this.max - 1 ? this.first : port + 2;
      if (this.used.has(port)) continue;
      const rtp = await this.sockets.bind(this.host, port);
      if (!rtp) continue;
      const rtcp = await this.sockets.bind(this.host, port + 1);
      if (!rtcp) {
        rtp.close();
        continue;
      }
      this.used.add(port);
      return { port, rtp, rtcp };
    }
    // RTPengine's error-reason when its port range is used up.
    throw new PortRangeExhaustedError(`Ran out of ports (no free RTP port pair in ${this.min}-${this.max})`);
  }

  release(pair: PortPair): void {
    if (!this.used.delete(pair.port)) return;
    pair.rtp.close();
    pair.rtcp.close();
  }
}
