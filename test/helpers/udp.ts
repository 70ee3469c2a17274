import { createSocket } from 'node:dgram';

/** Sends one datagram to 127.0.0.1:port and resolves with the first datagram that comes back, provisional responses skipped. */
export function udpRequest(port: number, payload: Buffer | string, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no UDP answer from 127.0.0.1:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    // The answer is the first final response (or anything else that is not a provisional response): an INVITE
    // the server takes longer than 200 ms to answer gets a 100 Trying first (RFC 3261 §17.2.1), as happens on a
    // loaded machine.
    const onMessage = (msg: Buffer) => {
      if (/^SIP\/2\.0 1\d\d /.test(msg.toString('latin1', 0, 12))) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      socket.close();
      resolve(msg);
    };
    socket.on('message', onMessage);
    socket.send(typeof payload === 'string' ? Buffer.from(payload) : payload, port, '127.0.0.1');
  });
}

/** A minimal SIP request as a UA would send it, for probing a listener. */
export function sipRequest(method: string, port: number, extraHeaders: string[] = []): string {
  const branch = `z9hG4bK${Math.random().toString(36).slice(2)}`;
  return [
    `${method} sip:gateway@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:9;branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@example.com>;tag=${Math.random().toString(36).slice(2)}`,
    `To: <sip:gateway@127.0.0.1:${port}>`,
    `Call-ID: ${Math.random().toString(36).slice(2)}@probe`,
    `CSeq: 1 ${method}`,
    ...extraHeaders,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}
