import WebSocket from 'ws';
import { parseMessage, type SipMessage } from '../../src/sip/index.js';

/** A SIP client on one WebSocket: sends text messages, collects what arrives. */
export class WsClient {
  readonly inbox: SipMessage[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      this.inbox.push(parseMessage(Buffer.from(data), { datagram: true }));
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async open(port: number): Promise<WsClient> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}`, 'sip');
    await new Promise<void>((resolve, reject) => socket.once('open', resolve).once('error', reject));
    return new WsClient(socket);
  }
  send(text: string | Buffer): void {
    this.socket.send(text);
  }
  async next(match: (m: SipMessage) => boolean, what: string): Promise<SipMessage> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const i = this.inbox.findIndex(match);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no ${what}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }
}
