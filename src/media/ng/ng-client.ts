import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { isIP } from 'node:net';
import { askReceiveBuffer, type BatchedSocket, type UdpBatchSockets } from '../../sip/index.js';
import type { BencodeValue } from './bencode.js';
import {
  NgBadReplyError,
  NgClientClosedError,
  NgErrorReply,
  NgSendError,
  NgTimeoutError,
  type NgError,
} from './ng-errors.js';
import { formatNgMessage, parseNgMessage, peekCookie, type NgDictionary } from './ng-message.js';

export interface NgClientOptions {
  /** The ng server: voxgate's relay or an RTPengine (`--listen-ng`). */
  host: string;
  port: number;
  /** How long to wait for a reply before retransmitting, per attempt. Default 1000 ms. */
  timeoutMs?: number;
  /** Retransmissions after the first attempt, each with the same cookie. Default 2. */
  retries?: number;
  /**
   * The native batched sockets (`udpBatchSockets()`), when the process uses them: requests to an IP address then
   * go out on one of them, those a SIP batch makes with the batch's own sends (one `sendmmsg`), and replies are
   * read with the SIP port's in one wake-up; a Node.js dgram send cost about 40 µs each, three per anchored call
   * (docs/performance.md). A host name keeps the dgram socket, which resolves it per send.
   */
  udp?: UdpBatchSockets;
}

export interface NgClient {
  /**
   * Sends `{ command, ...args }` under a fresh cookie, retransmitting it unchanged until a reply comes or the
   * retries run out. Resolves with the reply dictionary when `result` is neither `error` nor `load limit`.
   * Rejects with NgErrorReply, NgTimeoutError, NgBadReplyError, NgSendError or NgClientClosedError
   * (and BencodeError when `args` cannot be encoded). `options.retries` overrides the client's for a command
   * that may take long (a retransmission while the server still handles it is dropped there, one after it
   * gets the reply it cached): `stop recording`, which answers once the files are stored.
   */
  request(command: string, args?: NgDictionary, options?: { retries?: number }): Promise<NgDictionary>;
  /** `ping`; resolves when the server answers `pong`. */
  ping(): Promise<void>;
  /** Rejects whatever is still pending with NgClientClosedError and releases the socket. */
  close(): Promise<void>;
}

/** Tracing hook, one message per request settled: `NgClientEvent`. */
export const ngClientChannel = channel('voxgate:media:ng-client');

export interface NgClientEvent {
  command: string;
  /** The request's `call-id`, when it has one. */
  callId?: string;
  cookie: string;
  attempts: number;
  /** `ok`, or the code of the error the request failed with. */
  outcome: 'ok' | NgError['code'];
  durationMs: number;
}

interface Pending {
  command: string;
  attempts: number;
  began: number;
  timer: NodeJS.Timeout | undefined;
  settle(outcome: { reply: NgDictionary } | { error: NgError }): void;
}

function text(value: BencodeValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  return undefined;
}

/** Checks a reply's `result`: the reply itself, or the error it stands for. */
function interpret(command: string, reply: NgDictionary): { reply: NgDictionary } | { error: NgError } {
  const result = text(reply.result);
  if (result === undefined) return { error: new NgBadReplyError(command, 'the reply has no "result"') };
  if (result === 'error') {
    const reason = text(reply['error-reason']) ?? 'no error-reason given';
    return { error: new NgErrorReply(command, result, reason, reply) };
  }
  if (result === 'load limit') {
    const reason = text(reply.message) ?? 'load limit reached';
    return { error: new NgErrorReply(command, result, reason, reply) };
  }
  return { reply };
}

/**
 * The receive buffer asked for the client's socket. Replies carry SDP (about 1 KB each); with the kernel's
 * default (208 KiB on Linux) a gateway held up for a few tens of ms at a few hundred calls/s loses replies, each
 * a retry after `timeoutMs` (docs/performance.md, UDP receive buffers).
 */
const RECEIVE_BUFFER_BYTES = 4 * 2 ** 20;

/**
 * A client for the ng control protocol over UDP. Replies are matched to requests by cookie (a random
 * per-client prefix and a counter), so stray or late datagrams are ignored. The socket keeps the process alive
 * only while a request is pending.
 */
export function createNgClient(options: NgClientOptions): NgClient {
  const { host, port } = options;
  const timeoutMs = options.timeoutMs ?? 1000;
  const retries = options.retries ?? 2;
  const prefix = randomBytes(6).toString('hex');
  const pending = new Map<string, Pending>();
  let counter = 0;
  let closed = false;

  const onReply = (datagram: Buffer) => {
    const cookie = peekCookie(datagram);
    const entry = cookie === undefined ? undefined : pending.get(cookie);
    if (entry === undefined) return; // not ours, or a duplicate reply to a retransmission
    try {
      entry.settle(interpret(entry.command, parseNgMessage(datagram).body));
    } catch (err) {
      entry.settle({ error: new NgBadReplyError(entry.command, 'unreadable reply', { cause: err }) });
    }
  };
  const transport =
    options.udp && isIP(host) !== 0
      ? nativeTransport(options.udp, host, port, onReply)
      : dgramTransport(host, port, onReply, (err) => {
          // Errors of an unconnected UDP socket are not tied to one request: each pending one fails with it.
          for (const entry of [...pending.values()])
            entry.settle({ error: new NgSendError(entry.command, err) });
        });

  const track = (cookie: string, entry: Pending | undefined) => {
    if (entry) {
      if (pending.size === 0) transport.busy(true);
      pending.set(cookie, entry);
    } else {
      pending.delete(cookie);
      if (pending.size === 0 && !closed) transport.busy(false);
    }
  };

  const request = (
    command: string,
    args: NgDictionary = {},
    requestOptions: { retries?: number } = {},
  ): Promise<NgDictionary> =>
    new Promise<NgDictionary>((resolve, reject) => {
      if (closed) return reject(new NgClientClosedError(command));
      counter += 1;
      const cookie = `${prefix}_${counter}`;
      const datagram = formatNgMessage(cookie, { ...args, command });
      const entry: Pending = {
        command,
        attempts: 0,
        began: performance.now(),
        timer: undefined,
        settle(outcome) {
          if (pending.get(cookie) !== entry) return;
          clearTimeout(entry.timer);
          track(cookie, undefined);
          if (ngClientChannel.hasSubscribers) {
            const error = 'error' in outcome ? outcome.error : undefined;
            const callId = text(args['call-id']);
            ngClientChannel.publish({
              command,
              ...(callId === undefined ? {} : { callId }),
              cookie,
              attempts: entry.attempts,
              outcome: error === undefined ? 'ok' : error.code,
              durationMs: performance.now() - entry.began,
            } satisfies NgClientEvent);
          }
          if ('error' in outcome) reject(outcome.error);
          else resolve(outcome.reply);
        },
      };
      const transmit = () => {
        entry.attempts += 1;
        transport.send(datagram, (err) => entry.settle({ error: new NgSendError(command, err) }));
        entry.timer = setTimeout(() => {
          if (entry.attempts <= (requestOptions.retries ?? retries)) transmit();
          else entry.settle({ error: new NgTimeoutError(command, cookie, entry.attempts) });
        }, timeoutMs);
      };
      track(cookie, entry);
      transmit();
    });

  return {
    request,
    async ping() {
      const reply = await request('ping');
      if (reply.result !== 'pong') {
        throw new NgBadReplyError('ping', `ping answered "${text(reply.result) ?? ''}", not "pong"`);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        for (const entry of [...pending.values()]) {
          entry.settle({ error: new NgClientClosedError(entry.command) });
        }
        transport.close(resolve);
      }),
  };
}

/** The socket an ng client sends its requests on and reads the replies from. */
interface NgTransport {
  /** Sends one request; `onError` when it could not be sent (dgram only: a native send that fails is lost). */
  send(datagram: Buffer, onError: (err: Error) => void): void;
  /** Whether requests are pending: a dgram socket keeps the process alive only then. */
  busy(pending: boolean): void;
  close(done: () => void): void;
}

/** A Node.js dgram socket, bound by its first send, unref'd while no request is pending. */
function dgramTransport(
  host: string,
  port: number,
  onReply: (datagram: Buffer) => void,
  onError: (err: Error) => void,
): NgTransport {
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  socket.unref();
  // Bound by the first send; its buffer sized then (a socket not bound has none to size).
  socket.once('listening', () => askReceiveBuffer(socket, RECEIVE_BUFFER_BYTES));
  socket.on('message', onReply);
  socket.on('error', onError);
  return {
    send(datagram, failed) {
      socket.send(datagram, port, host, (err) => {
        if (err) failed(err);
      });
    },
    busy: (pending) => void (pending ? socket.ref() : socket.unref()),
    close: (done) => socket.close(() => done()),
  };
}

/**
 * One of the native batched sockets, opened by the first request on the wildcard address of the server's family
 * (as dgram's first send binds). It keeps the process alive while open, as every native socket does: until
 * `close()`.
 */
function nativeTransport(
  sockets: UdpBatchSockets,
  host: string,
  port: number,
  onReply: (datagram: Buffer) => void,
): NgTransport {
  let socket: BatchedSocket | undefined;
  return {
    send(datagram, failed) {
      if (!socket) {
        const opened = sockets.open(isIP(host) === 6 ? '::' : '0.0.0.0', 0);
        if (opened instanceof Error) return failed(opened);
        opened.setReceiveBuffer(RECEIVE_BUFFER_BYTES);
        opened.onPacket = onReply;
        socket = opened;
      }
      socket.send(datagram, port, host);
    },
    busy: () => undefined,
    close(done) {
      socket?.close();
      socket = undefined;
      done();
    },
  };
}
