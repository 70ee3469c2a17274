import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

/** A socket a client will open: its port and whether it is UDP (else TCP). */
export interface WantedSocket {
  readonly port: number;
  readonly udp: boolean;
}

/**
 * The first port of `range`, stepping by `step` (2 keeps RTP ports even), at which every socket `sockets(port)`
 * names can bind on all addresses — what a client given that port will open. The clients bind 0.0.0.0 or
 * 127.0.0.1; in the suite's namespace, free on 0.0.0.0 means free on both.
 */
export async function freePort(
  range: readonly [number, number],
  sockets: (port: number) => readonly WantedSocket[],
  step = 1,
): Promise<number> {
  const first = step === 2 && range[0] % 2 === 1 ? range[0] + 1 : range[0];
  for (let port = first; port <= range[1]; port += step) {
    const wanted = sockets(port);
    if (wanted.some((s) => s.port > range[1] + 3)) break;
    const results = await Promise.all(wanted.map((s) => canBind(s.port, s.udp)));
    if (results.every(Boolean)) return port;
  }
  throw new Error(`interop: no free port in ${range[0]}-${range[1]}`);
}

/** `count` consecutive ports from `port`, each over `protocols`. */
export function consecutive(
  count: number,
  ...protocols: ('udp' | 'tcp')[]
): (port: number) => WantedSocket[] {
  return (port) =>
    Array.from({ length: count }, (_, i) =>
      protocols.map((p) => ({ port: port + i, udp: p === 'udp' })),
    ).flat();
}

export function canBind(port: number, udp: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    if (udp) {
      const socket = createSocket('udp4');
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind(port, '0.0.0.0', () => socket.close(() => resolve(true)));
    } else {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
    }
  });
}
