import { createSocket, type Socket } from 'node:dgram';
import type {
  Peer,
  SendFailure,
  SendFailureHandler,
  SendTarget,
  SipEndpoint,
  StreamArrival,
  StreamRelay,
} from '../sip/index.js';
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

/** What went between this worker and the one holding the TCP, TLS and WebSocket flows. */
export interface StreamDispatchCounts {
  /** On the holder: messages read on a flow whose Call-ID another worker owns, handed to it. */
  passed: number;
  /** Messages read on the holder's flows, handed here. */
  received: number;
  /** Messages this worker sent on the holder's flows. */
  relayed: number;
  /** Of those, the ones that failed there (flow closed, connection refused) or could not reach the holder. */
  failed: number;
}

/**
 * The SIP workers of one gateway read the one UDP socket of the SIP port (the kernel gives each datagram to one
 * reader). A datagram whose Call-ID another worker owns (call-id-owner.ts) is handed to it on a loopback socket
 * of its own, with the sender's address and port, and that worker reads it as if it had arrived there; its
 * answers leave from the shared socket, so from the SIP port. A datagram without a Call-ID is read where it
 * arrived.
 *
 * TCP, TLS and WebSocket flows are all held by one worker (`STREAM_HOLDER`): a connection is one process's. A
 * message read on a flow whose Call-ID another worker owns is handed to that worker the same way, with the flow
 * it came on; what the other workers send on a stream (answers, requests to phones registered over TCP, TLS or
 * WebSocket, to TCP/TLS trunks) and their holds on flows go to the holder, which sends it as its own, and tells
 * the sender of a send that failed there.
 */
export interface WorkerDispatch {
  /** The loopback port other workers hand messages to. */
  readonly port: number;
  readonly counts: DispatchCounts;
  readonly streamCounts: StreamDispatchCounts;
  /** True when the datagram is not this worker's: handed on, or dropped while its owner is not up. */
  take(bytes: Buffer, remote: Peer): boolean;
  /** On the holder: true when the stream message is another worker's, handed on to it. */
  takeStream(bytes: Buffer, arrival: StreamArrival): boolean;
  /** On the other workers: the holder's flows, reached through it. */
  readonly relay: StreamRelay;
  /** Where messages handed here are read, and what the holder's relayed sends and holds act on. */
  attach(endpoint: DispatchEndpoint): void;
  /** The other workers' loopback ports by worker (undefined: not up). */
  setPeers(ports: readonly (number | undefined)[]): void;
  close(): Promise<void>;
}

export type DispatchEndpoint = Pick<
  SipEndpoint,
  'receiveDatagram' | 'receiveStream' | 'send' | 'holdFlow' | 'releaseFlow'
>;

/** The worker that opens the TCP, TLS and WebSocket listeners. */
export const STREAM_HOLDER = 0;

const LOOPBACK = '127.0.0.1';
const RECEIVE_BUFFER_BYTES = 4 * 2 ** 20;
/** The largest payload of a UDP datagram over IPv4: a message that does not fit with its envelope stays put. */
const MAX_HANDED = 65_507;
/**
 * How long a relayed send's failure is waited for: past 64*T1 (32 s) its transaction has ended anyway. Sends
 * that succeed are not acknowledged, so their waits are forgotten at this age, or beyond `MAX_PENDING`.
 */
const FAILURE_WAIT_MS = 40_000;
const MAX_PENDING = 50_000;

/** The first byte of what goes between workers. */
const enum Kind {
  Datagram = 0,
  Stream = 1,
  Send = 2,
  SendFailed = 3,
  Hold = 4,
  Release = 5,
}

/**
 * The envelope of a handed datagram: its kind, the sender's address (length byte, ASCII) and port (2 bytes)
 * before the datagram's bytes.
 */
function datagramEnvelope(remote: Peer): Buffer {
  const address = Buffer.from(remote.address, 'latin1');
  const head = Buffer.allocUnsafe(4 + address.length);
  head[0] = Kind.Datagram;
  head[1] = address.length;
  address.copy(head, 2);
  head.writeUInt16BE(remote.port, 2 + address.length);
  return head;
}

/** The envelope of the other kinds: the kind, a JSON header's length (2 bytes) and the header. */
function envelope(kind: Kind, header: object): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const head = Buffer.allocUnsafe(3 + json.length);
  head[0] = kind;
  head.writeUInt16BE(json.length, 1);
  json.copy(head, 3);
  return head;
}

interface StreamHeader {
  t: StreamArrival['transport'];
  w?: StreamArrival['webSocket'];
  a: string;
  p: number;
  f: string;
}
interface SendHeader {
  /** Set when the sender waits for a failure. */
  id?: number;
  target: SendTarget;
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
  const streamCounts: StreamDispatchCounts = { passed: 0, received: 0, relayed: 0, failed: 0 };
  let peers: readonly (number | undefined)[] = [];
  let known = new Set<number>();
  let endpoint: DispatchEndpoint | undefined;
  const pending = new Map<number, { at: number; onFailure: SendFailureHandler }>();
  let nextSend = 1;

  const owner = (bytes: Buffer): number => {
    const callId = findCallId(bytes);
    return callId ? ownerOfBytes(bytes, callId.start, callId.end, place.workers) : place.worker;
  };
  const failRelayed = (onFailure: SendFailureHandler | undefined, failure: SendFailure) => {
    streamCounts.failed++;
    if (onFailure) queueMicrotask(() => onFailure(failure));
  };
  /** Reads what another worker handed here; anything malformed is dropped (only workers write here). */
  const read = (packet: Buffer, from: number) => {
    if (!endpoint) return;
    const kind = packet[0] as Kind;
    if (kind === Kind.Datagram) {
      const length = packet[1] ?? 0;
      if (packet.length < 4 + length) return;
      const address = packet.toString('latin1', 2, 2 + length);
      const port = packet.readUInt16BE(2 + length);
      counts.received++;
      endpoint.receiveDatagram(packet.subarray(4 + length), { address, port });
      return;
    }
    if (packet.length < 3) return;
    const end = 3 + packet.readUInt16BE(1);
    if (packet.length < end) return;
    const header = JSON.parse(packet.toString('utf8', 3, end)) as unknown;
    const bytes = packet.subarray(end);
    switch (kind) {
      case Kind.Stream: {
        const h = header as StreamHeader;
        streamCounts.received++;
        endpoint.receiveStream(bytes, {
          transport: h.t,
          ...(h.w ? { webSocket: h.w } : {}),
          remote: { address: h.a, port: h.p },
          flowId: h.f,
        });
        return;
      }
      case Kind.Send: {
        const { id, target } = header as SendHeader;
        endpoint.send(
          bytes,
          target,
          id === undefined
            ? undefined
            : (failure) => socket.send(envelope(Kind.SendFailed, { id, failure }), from, LOOPBACK),
        );
        return;
      }
      case Kind.SendFailed: {
        const { id, failure } = header as { id: number; failure: SendFailure };
        const waiting = pending.get(id);
        pending.delete(id);
        if (waiting) failRelayed(waiting.onFailure, failure);
        return;
      }
      case Kind.Hold: {
        const h = header as { f: string; k: string; u: number };
        endpoint.holdFlow(h.f, h.k, h.u);
        return;
      }
      case Kind.Release:
        endpoint.releaseFlow((header as { k: string }).k);
        return;
    }
  };
  socket.on('message', (packet, from) => {
    // Only the other workers' loopback sockets hand messages here: anything else could claim any sender.
    if (from.address !== LOOPBACK || !known.has(from.port)) return;
    try {
      read(packet, from.port);
    } catch {
      // A header that does not parse: dropped like a damaged datagram.
    }
  });
  /** Hands `parts` to the holder; false when it is not up or they do not fit in one datagram. */
  const toHolder = (parts: Buffer[]): boolean => {
    const port = peers[STREAM_HOLDER];
    if (port === undefined || parts.reduce((n, b) => n + b.length, 0) > MAX_HANDED) return false;
    socket.send(parts, port, LOOPBACK);
    return true;
  };
  const relay: StreamRelay = {
    send(bytes, to, onFailure) {
      streamCounts.relayed++;
      let id: number | undefined;
      if (onFailure) {
        const now = Date.now();
        for (const [key, waiting] of pending) {
          if (waiting.at > now - FAILURE_WAIT_MS && pending.size < MAX_PENDING) break;
          pending.delete(key);
        }
        id = nextSend++;
        pending.set(id, { at: now, onFailure });
      }
      const target: SendTarget = {
        address: to.address,
        port: to.port,
        ...(to.transport ? { transport: to.transport } : {}),
        ...(to.flowId !== undefined ? { flowId: to.flowId } : {}),
        ...(to.serverName !== undefined ? { serverName: to.serverName } : {}),
      };
      const header: SendHeader = { ...(id === undefined ? {} : { id }), target };
      if (toHolder([envelope(Kind.Send, header), bytes])) return;
      if (id !== undefined) pending.delete(id);
      const up = peers[STREAM_HOLDER] !== undefined;
      failRelayed(onFailure, {
        reason: up ? 'socket-error' : 'no-transport',
        transport: to.transport ?? 'udp',
        to,
        detail: up
          ? 'larger than one datagram to the SIP worker holding the streams'
          : 'the SIP worker holding TCP, TLS and WebSocket is not up',
      });
    },
    holdFlow(flowId, key, until) {
      toHolder([envelope(Kind.Hold, { f: flowId, k: key, u: until })]);
    },
    releaseFlow(key) {
      toHolder([envelope(Kind.Release, { k: key })]);
    },
  };
  return {
    port: socket.address().port,
    counts,
    streamCounts,
    relay,
    take(bytes, remote) {
      if (place.workers === 1) return false;
      const to = owner(bytes);
      if (to === place.worker) {
        counts.own++;
        return false;
      }
      const port = peers[to];
      if (port === undefined) {
        counts.dropped++;
        return true;
      }
      counts.passed++;
      socket.send([datagramEnvelope(remote), bytes], port, LOOPBACK);
      return true;
    },
    takeStream(bytes, arrival) {
      if (place.workers === 1) return false;
      const to = owner(bytes);
      const port = peers[to];
      // Read here when it is this worker's, when its owner is not up (the flow's sender does not retransmit:
      // a request is better answered by the wrong worker, often 481, than lost) or when it is too large.
      if (to === place.worker || port === undefined) return false;
      const header: StreamHeader = {
        t: arrival.transport,
        ...(arrival.webSocket ? { w: arrival.webSocket } : {}),
        a: arrival.remote.address,
        p: arrival.remote.port,
        f: arrival.flowId,
      };
      const head = envelope(Kind.Stream, header);
      if (head.length + bytes.length > MAX_HANDED) return false;
      streamCounts.passed++;
      socket.send([head, bytes], port, LOOPBACK);
      return true;
    },
    attach(next) {
      endpoint = next;
    },
    setPeers(ports) {
      peers = [...ports];
      known = new Set(ports.filter((p): p is number => p !== undefined));
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
