import { createSocket, type RemoteInfo } from 'node:dgram';
import type { AddressInfo } from 'node:net';

/**
 * A UDP relay between one client and an upstream server that drops the first `dropReplies` replies, as a lossy
 * network would: the client must retransmit to get an answer.
 */
export async function createLossyRelay(upstreamPort: number, dropReplies: number) {
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  let client: RemoteInfo | undefined;
  let dropped = 0;
  front.on('message', (msg, from) => {
    client = from;
    back.send(msg, upstreamPort, '127.0.0.1');
  });
  back.on('message', (msg) => {
    if (dropped < dropReplies) {
      dropped++;
      return;
    }
    if (client) front.send(msg, client.port, client.address);
  });
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => back.bind(0, '127.0.0.1', resolve));
  return {
    port: (front.address() as AddressInfo).port,
    dropped: () => dropped,
    close: async () => {
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await new Promise<void>((resolve) => back.close(() => resolve()));
    },
  };
}
