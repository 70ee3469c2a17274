import { createServer, type Server, type Socket } from 'node:net';
import { StreamTransport } from './stream-transport.js';

/** The TCP channel (RFC 3261 §18): stream framing by Content-Length, one flow per connection. */
export class TcpTransport extends StreamTransport {
  readonly name = 'tcp' as const;

  protected createServer(onConnection: (socket: Socket) => void): Server {
    return createServer((socket) => {
      if (this.admit(socket)) onConnection(socket);
    });
  }
}
