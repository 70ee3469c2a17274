import { createSocket, type RemoteInfo } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { decode, type BencodeDictionary } from '../../src/media/index.js';

/**
 * One UDP socket on 127.0.0.1 for driving an ng server by hand: sends raw datagrams and waits for the reply that
 * carries a given cookie. Every datagram received is also kept, in order, in `received`.
 */
export interface UdpProbe {
  readonly port: number;
  readonly received: Buffer[];
  send(bytes: Buffer | string, port: number): void;
  /** Sends, then resolves with the first datagram (received after this call) that starts with `cookie `. */
  exchange(bytes: Buffer | string, port: number, cookie: string): Promise<Buffer>;
  /** Resolves with the next datagram received, from anyone. */
  next(): Promise<{ datagram: Buffer; from: RemoteInfo }>;
  close(): Promise<void>;
}

export async function createUdpProbe(): Promise<UdpProbe> {
  const socket = createSocket('udp4');
  const received: Buffer[] = [];
  const waiters: ((m: { datagram: Buffer; from: RemoteInfo }) => boolean)[] = [];
  socket.on('message', (datagram, from) => {
    received.push(datagram);
    const i = waiters.findIndex((w) => w({ datagram, from }));
    if (i >= 0) waiters.splice(i, 1);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const send = (bytes: Buffer | string, port: number) =>
    socket.send(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes, port, '127.0.0.1');
  return {
    port: (socket.address() as AddressInfo).port,
    received,
    send,
    exchange(bytes, port, cookie) {
      const prefix = Buffer.from(`${cookie} `, 'latin1');
      const reply = new Promise<Buffer>((resolve) => {
        waiters.push(({ datagram }) => {
          if (!datagram.subarray(0, prefix.length).equals(prefix)) return false;
          resolve(datagram);
          return true;
        });
      });
      send(bytes, port);
      return reply;
    },
    next: () =>
      new Promise((resolve) => {
        waiters.push((m) => {
          resolve(m);
          return true;
        });
      }),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** Splits a reply datagram into its cookie and decoded dictionary. */
export function readReply(datagram: Buffer): { cookie: string; body: BencodeDictionary } {
  const space = datagram.indexOf(0x20);
  return {
    cookie: datagram.toString('latin1', 0, space),
    body: decode(datagram.subarray(space + 1)) as BencodeDictionary,
  };
}
