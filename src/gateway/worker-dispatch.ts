import { createSocket, type Socket } from 'node:dgram';
import type { Peer } from '../sip/index.js';
import { findCallId, ownerOfBytes, type CallIdOwnership } from './call-id-owner.js';

/** What happened to datagrams read on the shared SIP socket, and to those handed here by other workers. */
export interface DispatchCounts {
  /** Read here and owned here. */
  own: number;
  /** Read here, owned by another worker, handed to it. */
  passed: number;
  /** Read here for a worker that is not up (starting, restarting): dropped, the sender retransmits. */
  dropped: number;
  /** Handed here by another worker. */
  received: number;
}

/**
 * The SIP workers of one gateway read the one UDP socket of the SIP port (the kernel gives each datagram to one
 * reader). A datagram whose Call-ID another worker owns (call-id-owner.ts) is handed to it on a loopback socket
 * of its own, with the sender's address and port, and that worker reads it as if it had arrived there; its
 * answers leave from the shared socket, so from the SIP port. A datagram without a Call-ID is read where it
 * arrived.
 */
export interface WorkerDispatch {
  /** The loopback port other workers hand datagrams to. */
  readonly port: number;
  readonly counts: DispatchCounts;
  /** True when the datagram is not this worker's: handed on, or dropped while its owner is not up. */
  take(bytes: Buffer, remote: Peer): boolean;
  /** Where datagrams handed here go. */
  deliverTo(receive: (bytes: Buffer, remote: Peer) => void): void;
  /** The other workers' loopback ports by worker (undefined: not up). */
  setPeers(ports: readonly (number | undefined)[]): void;
  close(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';
const RECEIVE_BUFFER_BYTES = 4 * 2 ** 20;

/**
 * The envelope of a handed datagram: the sender's address (length byte, ASCII) and port (2 bytes) before
 * the datagram's bytes.
 */
function envelope(remote: Peer): Buffer {
  const address = Buffer.from(remote.address, 'latin1');
  const head = Buffer.allocUnsafe(3 + address.length);
  head[0] = address.length;
  address.copy(head, 1);
  head.writeUInt16BE(remote.port, 1 + address.length);
  return head;
}

export async function openWorkerDispatch(place: CallIdOwnership): Promise<WorkerDispatch> {
  const socket: Socket = createSocket('udp4');
  // Exclusive: in a cluster worker a socket is otherwise shared through the primary, and this one is per worker.
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: LOOPBACK, port: 0, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => undefined);
  // Bursts handed to a busy owner wait here: 4 MiB (the kernel caps it at net.core.rmem_max) instead of the
  // ~200 KiB default, about 200 INVITEs.
  socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
  const counts: DispatchCounts = { own: 0, passed: 0, dropped: 0, received: 0 };
  let peers: readonly (number | undefined)[] = [];
  let known = new Set<number>();
  let receive: ((bytes: Buffer, remote: Peer) => void) | undefined;
  socket.on('message', (packet, from) => {
    // Only the other workers' loopback sockets hand datagrams here: anything else could claim any sender.
    if (from.address !== LOOPBACK || !known.has(from.port) || !receive) return;
    const length = packet[0] ?? 0;
    if (packet.length < 3 + length) return;
    const address = packet.toString('latin1', 1, 1 + length);
    const port = packet.readUInt16BE(1 + length);
    counts.received++;
    receive(packet.subarray(3 + length), { address, port });
  });
  return {
    port: socket.address().port,
    counts,
    take(bytes, remote) {
      if (place.workers === 1) return false;
      const callId = findCallId(bytes);
      const owner = callId ? ownerOfBytes(bytes, callId.start, callId.end, place.workers) : place.worker;
      if (owner === place.worker) {
        counts.own++;
        return false;
      }
      const port = peers[owner];
      if (port === undefined) {
        counts.dropped++;
        return true;
      }
      counts.passed++;
      socket.send([envelope(remote), bytes], port, LOOPBACK);
      return true;
    },
    deliverTo(next) {
      receive = next;
    },
    setPeers(ports) {
      peers = [...ports];
      known = new Set(ports.filter((p): p is number => p !== undefined));
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
