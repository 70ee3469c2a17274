/**
 * The one UDP socket interface the relay's data plane uses, with two implementations: Node's `dgram`
 * (`dgramSockets`, everywhere) and the native batched one (`nativeUdpFor` of src/sip/transport/udp-batch.ts,
 * Linux with the addon built). The relay only binds, receives, sends to IP literals and closes, so the interface
 * is that and nothing more.
 */
import { createSocket } from 'node:dgram';
import { nativeUdpFor, type UdpMode } from '../../sip/index.js';

/** Where a packet came from (a party's address and port). */
export interface PacketSource {
  readonly address: string;
  readonly port: number;
}

export type PacketHandler = (packet: Buffer, from: PacketSource) => void;

export interface RelaySocket {
  /**
   * The handler of every packet received; a packet before one is set is dropped. The packet and its source are
   * lent: valid until the handler returns (the native sockets reuse both for the next packet), so a handler
   * copies what it keeps.
   */
  onPacket: PacketHandler | undefined;
  /**
   * Sends without a callback: a packet the kernel refuses is lost, as on the wire. `packet` may be written over
   * once this returns (a lending SRTP session's buffer): an implementation copies it or is done with it.
   */
  send(packet: Uint8Array, port: number, address: string): void;
  close(): void;
}

/** Binds one socket to `host`:`port`; undefined when the port is taken (or cannot be bound). */
export interface RelaySockets {
  /** `dgram` or `native`: which implementation, for the logs and metrics. */
  readonly kind: 'dgram' | 'native';
  bind(host: string, port: number): Promise<RelaySocket | undefined>;
}

/**
 * The relay only ever sends to IP literals (from SDP or a packet's source). dgram resolves every destination
 * through `dns.lookup`, which answers an IP literal on the next tick: a deferred callback per packet. This
 * lookup answers at once (measured: 7.6 → 6.9 µs of CPU per relayed packet).
 */
const literal = (
  address: string,
  _family: unknown,
  callback: (err: null, address: string, family: number) => void,
) => callback(null, address, address.includes(':') ? 6 : 4);

/** Node's dgram sockets. */
export const dgramSockets: RelaySockets = {
  kind: 'dgram',
  bind(host, port) {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', lookup: literal });
    return new Promise((resolve) => {
      socket.once('error', () => {
        socket.close();
        resolve(undefined);
      });
      socket.bind(port, host, () => {
        socket.removeAllListeners('error');
        // A socket error must not end the process (an 'error' event without a listener throws); the relay
        // sends without callbacks, and a failed receive only loses that packet.
        socket.on('error', () => undefined);
        const relaySocket: RelaySocket = {
          onPacket: undefined,
          // dgram may queue the send and read the bytes later: its own copy (the native sockets copy into
          // their send slab, or send at once).
          send: (packet, toPort, address) => socket.send(Buffer.from(packet), toPort, address),
          close: () => socket.close(),
        };
        socket.on('message', (packet, from) => relaySocket.onPacket?.(packet, from));
        resolve(relaySocket);
      });
    });
  },
};

/**
 * The sockets for `mode` (VOXGATE_MEDIA_UDP), with the reason native ones were not taken under `auto` (for the
 * log); `native` without a usable addon throws.
 */
export function relaySockets(mode: UdpMode): { sockets: RelaySockets; fallback?: string } {
  const { native, fallback } = nativeUdpFor(mode, 'VOXGATE_MEDIA_UDP');
  if (!native) return { sockets: dgramSockets, ...(fallback ? { fallback } : {}) };
  return {
    sockets: {
      kind: 'native',
      // Lent packets: the forwarder allocates nothing per packet relayed, so the relay's young generation
      // fills only with what calls set up and tear down, not with media (no collection pauses in the flow).
      bind: async (host, port) => {
        const socket = await native.bind(host, port);
        if (socket) socket.lend = true;
        return socket;
      },
    },
  };
}
