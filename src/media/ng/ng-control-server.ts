import { createSocket, type RemoteInfo } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { channel } from 'node:diagnostics_channel';
import { isIP } from 'node:net';
import { askReceiveBuffer } from '../../sip/index.js';
import { BencodeError, type BencodeValue } from './bencode.js';
import { defaultNgHandlers, type NgHandlers } from './ng-default-handlers.js';
import { NgError } from './ng-errors.js';
import { formatNgMessage, parseNgMessage, peekCookie, type NgDictionary } from './ng-message.js';
import { createReplyCache } from './ng-reply-cache.js';

export interface NgControlServerOptions {
  host: string;
  port: number;
  /** Command name → handler, over the defaults (`ping`, `list`, `statistics`). */
  handlers?: NgHandlers;
  /** How long a reply is kept for retransmissions of its command. Default 30 s; 0 turns the cache off. */
  cacheTtlMs?: number;
  /** Most replies kept; the oldest go first. Default 10,000. */
  cacheMaxEntries?: number;
  /**
   * Most bytes the kept replies hold together; the oldest go first. Default 32 MiB: a reply can be 64 KiB, and
   * 10,000 of them would otherwise hold 640 MiB (a client sending large offers under fresh cookies).
   */
  cacheMaxBytes?: number;
  /**
   * SO_RCVBUF asked for the ng socket (Linux grants at most net.core.rmem_max). Default 4 MiB, as the gateway's ng
   * client: the system's default (208 KiB) held 166 offers queued while the relay was stopped for 200 ms (a
   * collection, a CPU taken by another process) and dropped the rest, each then waiting for the client's
   * retransmission (1 s); 800 calls/s send that many ng commands in 70 ms. 0 keeps the system's.
   */
  receiveBufferBytes?: number;
}

export interface NgControlServer {
  address(): AddressInfo;
  /** The socket's receive buffer as the kernel reports it (Linux: twice what was granted). */
  receiveBufferSize(): number;
  /** Replies kept for retransmitted commands (bounded: cacheMaxEntries, cacheMaxBytes, cacheTtlMs). */
  readonly cachedReplies: number;
  close(): Promise<void>;
}

/** Tracing hook, one message per command answered: `NgCommandEvent`. */
export const ngCommandChannel = channel('voxgate:media:ng-command');
/** Tracing hook, one message per datagram dropped without a reply: `NgDropEvent`. */
export const ngDropChannel = channel('voxgate:media:ng-drop');

export interface NgCommandEvent {
  command: string | undefined;
  /** The command's `call-id`, when it has one. */
  callId?: string;
  cookie: string;
  from: string;
  result: string;
  /** True when the reply came from the cache: the command was a retransmission and did not run again. */
  cached: boolean;
  durationMs: number;
  /** Why the datagram could not be read, when the reply is REASON_UNPARSABLE. */
  parseError?: string;
}

export interface NgDropEvent {
  reason: 'no-cookie' | 'in-flight' | 'closed';
  from: string;
  bytes: number;
}

/** RTPengine's own `error-reason` texts, so clients that match on them work against either. */
export const REASON_UNPARSABLE = 'Invalid NG data format';
export const REASON_NO_COMMAND = 'Dictionary contains no key "command"';
export const REASON_UNKNOWN_COMMAND = 'Unrecognized command';

interface Outcome {
  reply: Buffer;
  command: string | undefined;
  callId?: string;
  result: string;
  parseError?: string;
}

/** The largest UDP payload over IPv4. */
const MAX_DATAGRAM = 65_507;
const LONE_SURROGATE = /[\uD800-\uDFFF]/gu;

function errorReply(cookie: string, reason: string): Buffer {
  return formatNgMessage(cookie, {
    result: 'error',
    'error-reason': reason.replace(LONE_SURROGATE, '\uFFFD'),
  });
}

function isDictionary(value: unknown): value is NgDictionary {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

function describeParseError(err: unknown): string {
  return err instanceof BencodeError || err instanceof NgError ? err.message : 'unreadable message';
}

function resultOf(reply: NgDictionary): string {
  const result: BencodeValue | undefined = reply.result;
  return typeof result === 'string' ? result : 'ok';
}

/**
 * The ng control listener (RTPengine's protocol over UDP). Every datagram is `<cookie> <bencoded dictionary>`
 * and its reply echoes the cookie. A command retransmitted from the same address and port with the same cookie
 * gets the cached reply and is not executed again; one that arrives while the original is still being handled
 * is dropped, since the original's reply answers both. Input with a cookie but an unreadable body gets
 * `result: error` with an `error-reason`; input without a cookie is dropped. A handler that throws becomes an
 * error reply. Nothing that arrives can make this throw.
 */
export async function createNgControlServer(options: NgControlServerOptions): Promise<NgControlServer> {
  const handlers: NgHandlers = { ...defaultNgHandlers(), ...options.handlers };
  const cache = createReplyCache<Outcome>({
    ttlMs: options.cacheTtlMs ?? 30_000,
    maxEntries: options.cacheMaxEntries ?? 10_000,
    maxBytes: options.cacheMaxBytes ?? 32 * 1024 * 1024,
    sizeOf: (outcome) => outcome.reply.length,
  });
  const inFlight = new Set<string>();
  const socket = createSocket(isIP(options.host) === 6 ? 'udp6' : 'udp4');
  let closed = false;

  const send = (reply: Buffer, to: RemoteInfo) => {
    if (closed) return;
    // A failed send (the client went away, ICMP) is the client's loss: it retransmits or gives up.
    socket.send(reply, to.port, to.address, () => undefined);
  };

  const execute = async (datagram: Buffer, cookie: string, from: RemoteInfo): Promise<Outcome> => {
    let body: NgDictionary;
    try {
      ({ body } = parseNgMessage(datagram));
    } catch (err) {
      return {
        reply: errorReply(cookie, REASON_UNPARSABLE),
        command: undefined,
        result: 'error',
        parseError: describeParseError(err),
      };
    }
    const command = typeof body.command === 'string' ? body.command : undefined;
    if (command === undefined) {
      return { reply: errorReply(cookie, REASON_NO_COMMAND), command, result: 'error' };
    }
    const id = body['call-id'];
    const callId = typeof id === 'string' ? id : Buffer.isBuffer(id) ? id.toString('utf8') : undefined;
    const handler = Object.hasOwn(handlers, command) ? handlers[command] : undefined;
    if (handler === undefined) {
      return { reply: errorReply(cookie, REASON_UNKNOWN_COMMAND), command, callId, result: 'error' };
    }
    try {
      const answer: unknown = await handler(body, from);
      if (!isDictionary(answer)) throw new TypeError('the handler did not return a dictionary');
      const replyBody: NgDictionary = { result: 'ok', ...answer };
      const reply = formatNgMessage(cookie, replyBody);
      if (reply.length > MAX_DATAGRAM) {
        return {
          reply: errorReply(cookie, 'Reply too large for one datagram'),
          command,
          callId,
          result: 'error',
        };
      }
      return { reply, command, callId, result: resultOf(replyBody) };
    } catch (err) {
      const reason = err instanceof Error && err.message !== '' ? err.message : 'Internal error';
      return { reply: errorReply(cookie, reason), command, callId, result: 'error' };
    }
  };

  socket.on('message', (datagram, from) => {
    const where = `${from.address}:${from.port}`;
    const drop = (reason: NgDropEvent['reason']) => {
      if (ngDropChannel.hasSubscribers) {
        ngDropChannel.publish({ reason, from: where, bytes: datagram.length } satisfies NgDropEvent);
      }
    };
    if (closed) return drop('closed');
    const cookie = peekCookie(datagram);
    if (cookie === undefined) return drop('no-cookie');
    const key = `${where}|${cookie}`;
    const cached = cache.get(key);
    if (cached !== undefined) {
      send(cached.reply, from);
      if (ngCommandChannel.hasSubscribers) {
        ngCommandChannel.publish({
          command: cached.command,
          ...(cached.callId === undefined ? {} : { callId: cached.callId }),
          cookie,
          from: where,
          result: cached.result,
          cached: true,
          durationMs: 0,
        } satisfies NgCommandEvent);
      }
      return;
    }
    if (inFlight.has(key)) return drop('in-flight');
    inFlight.add(key);
    const began = performance.now();
    execute(datagram, cookie, from).then(
      (outcome) => {
        const { reply, command, callId, result, parseError } = outcome;
        inFlight.delete(key);
        if (closed) return;
        cache.set(key, outcome);
        send(reply, from);
        if (ngCommandChannel.hasSubscribers) {
          ngCommandChannel.publish({
            command,
            ...(callId === undefined ? {} : { callId }),
            cookie,
            from: where,
            result,
            cached: false,
            durationMs: performance.now() - began,
            ...(parseError === undefined ? {} : { parseError }),
          } satisfies NgCommandEvent);
        }
      },
      () => inFlight.delete(key),
    );
  });

  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port, options.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    socket.close(); // cleanup, not handling: the bind error is the caller's
    throw err;
  }
  // After bind, socket errors (ICMP feedback on an unconnected socket) must not kill the listener.
  socket.on('error', () => undefined);
  const receiveBufferBytes = options.receiveBufferBytes ?? 4 * 2 ** 20;
  if (receiveBufferBytes > 0) askReceiveBuffer(socket, receiveBufferBytes);

  return {
    address: () => socket.address(),
    receiveBufferSize: () => socket.getRecvBufferSize(),
    get cachedReplies() {
      return cache.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        cache.clear();
        inFlight.clear();
        socket.close(() => resolve());
      }),
  };
}
