import type { NgHandlers } from '../ng/ng-default-handlers.js';
import type { RelayCounters } from './media-call.js';
import { ngRelayHandlers } from './ng-relay-handlers.js';
import { PortAllocator } from './port-allocator.js';
import type { RelaySockets } from './relay-socket.js';
import { SessionTable, type RecordingOptions } from './session-table.js';

export interface MediaRelayOptions {
  /** Address the RTP sockets bind to. */
  bindHost: string;
  /** Address put in the SDP (the parties send there). */
  advertised: string;
  portMin: number;
  portMax: number;
  /** A call with no RTP/RTCP and no signalling for this long is deleted; 0 = never. */
  timeoutMs: number;
  /** Call recording (ng `record call`, `start recording`, `stop recording`); absent = refused. */
  recording?: RecordingOptions;
  /** The RTP/RTCP sockets (`relaySockets()` in udp-batch.ts); default Node's dgram. */
  sockets?: RelaySockets;
}

export interface MediaRelay {
  /** The ng commands of the data plane: offer, answer, delete, query, list, statistics (and ping). */
  readonly handlers: NgHandlers;
  readonly calls: number;
  /** Port pairs in use. */
  readonly portsInUse: number;
  /** Packets and bytes relayed, packets refused, since the relay started. */
  readonly counters: Readonly<RelayCounters>;
  /** Ends every call and waits (up to `waitMs`, default 30 s) for their recordings to be stored. */
  close(waitMs?: number): Promise<void>;
}

/**
 * voxgate's media relay: RTPengine's ng data-plane commands (`ng-relay-handlers.ts`) over a session table of
 * `MediaCall`s with port pairs from the RTP range; calls idle past the media timeout are ended.
 */
export function createMediaRelay(options: MediaRelayOptions): MediaRelay {
  const ports = new PortAllocator(options.bindHost, options.portMin, options.portMax, options.sockets);
  const table = new SessionTable(ports, {
    advertised: options.advertised,
    timeoutMs: options.timeoutMs,
    recording: options.recording,
  });
  return {
    handlers: ngRelayHandlers(table),
    get calls() {
      return table.size;
    },
    get portsInUse() {
      return ports.inUse;
    },
    counters: table.counters,
    close(waitMs) {
      return table.close(waitMs);
    },
  };
}
