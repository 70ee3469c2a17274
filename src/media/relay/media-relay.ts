import { channel } from 'node:diagnostics_channel';
import type { BencodeValue } from '../ng/bencode.js';
import type { NgHandlers } from '../ng/ng-default-handlers.js';
import type { NgDictionary } from '../ng/ng-message.js';
import { SdpParseError } from '../sdp/sdp-error.js';
import { MediaCall, type SdpFlags } from './media-call.js';
import { PortAllocator } from './port-allocator.js';

/** Tracing hook: a call deleted because no packet and no signal came for the media timeout. */
export const mediaTimeoutChannel = channel('voxgate:media:timeout');
export interface MediaTimeoutEvent {
  callId: string;
  idleMs: number;
}

export interface MediaRelayOptions {
  /** Address the RTP sockets bind to. */
  bindHost: string;
  /** Address put in the SDP (the parties send there). */
  advertised: string;
  portMin: number;
  portMax: number;
  /** A call with no RTP/RTCP and no signalling for this long is deleted; 0 = never. */
  timeoutMs: number;
}

export interface MediaRelay {
  /** The ng commands of the data plane: offer, answer, delete, query, list, statistics. */
  readonly handlers: NgHandlers;
  readonly calls: number;
  /** Port pairs in use. */
  readonly portsInUse: number;
  close(): void;
}

function text(value: BencodeValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  if (typeof value === 'number') return String(value);
  return undefined;
}

function list(value: BencodeValue | undefined): string[] {
  if (Array.isArray(value)) return value.map((v) => text(v) ?? '').filter(Boolean);
  const single = text(value);
  return single ? single.split(/[\s,]+/) : [];
}

/** RTPengine's replies for the same situations, so clients matching on them work against either relay. */
function need(args: NgDictionary, key: string, what: string): string {
  const value = text(args[key]);
  if (value === undefined || value === '') throw new Error(`No ${what} in message`);
  return value;
}

function flagsOf(args: NgDictionary): SdpFlags {
  const replace = list(args.replace);
  const flags = list(args.flags);
  return {
    replaceOrigin: replace.includes('origin'),
    removeIce: (text(args.ICE) ?? '').toLowerCase() === 'remove',
    strictSource: flags.includes('strict-source') || flags.includes('strict source'),
  };
}

/**
 * voxgate's media relay: RTPengine's ng data-plane commands over `MediaCall`s, a port allocator over the RTP
 * range, and a sweep that deletes calls idle past the media timeout (ports freed, `mediaTimeoutChannel`).
 */
export function createMediaRelay(options: MediaRelayOptions): MediaRelay {
  const ports = new PortAllocator(options.bindHost, options.portMin, options.portMax);
  const calls = new Map<string, MediaCall>();
  const startedAt = Date.now();
  const totals = { managed: 0, timeouts: 0, deleted: 0 };

  const sweep =
    options.timeoutMs > 0
      ? setInterval(
          () => {
            const now = Date.now();
            for (const [id, call] of calls) {
              const idle = now - call.lastActivity;
              if (idle < options.timeoutMs) continue;
              call.close();
              calls.delete(id);
              totals.timeouts++;
              if (mediaTimeoutChannel.hasSubscribers) {
                mediaTimeoutChannel.publish({ callId: id, idleMs: idle } satisfies MediaTimeoutEvent);
              }
            }
          },
          Math.min(1000, Math.max(50, Math.floor(options.timeoutMs / 4))),
        )
      : undefined;
  sweep?.unref();

  const known = (args: NgDictionary): MediaCall => {
    const callId = need(args, 'call-id', 'call-id');
    const call = calls.get(callId);
    if (!call) throw new Error('Unknown call-id');
    return call;
  };

  const sdpCommand = async (args: NgDictionary, answer: boolean): Promise<NgDictionary> => {
    const callId = need(args, 'call-id', 'call-id');
    const fromTag = need(args, 'from-tag', 'from-tag');
    const toTag = answer ? need(args, 'to-tag', 'to-tag') : undefined;
    const sdp = need(args, 'sdp', 'SDP body');
    let call = calls.get(callId);
    if (!call) {
      if (answer) throw new Error('Unknown call-id');
      call = new MediaCall(callId, ports, { advertised: options.advertised });
      calls.set(callId, call);
      totals.managed++;
    }
    try {
      // ng: an answer's SDP comes from the to-tag party and goes to the from-tag party (the offerer).
      const rewritten = answer
        ? await call.sdpFrom(toTag!, sdp, flagsOf(args), fromTag)
        : await call.sdpFrom(fromTag, sdp, flagsOf(args));
      return { sdp: rewritten };
    } catch (err) {
      if (call.portPairs === 0) {
        call.close();
        calls.delete(callId);
      }
      if (err instanceof SdpParseError)
        throw new Error(`Failed to parse SDP: ${err.message}`, { cause: err });
      throw err;
    }
  };

  const handlers: NgHandlers = {
    ping: () => ({ result: 'pong' }),
    offer: (args) => sdpCommand(args, false),
    answer: (args) => sdpCommand(args, true),
    delete: (args) => {
      const call = known(args);
      const report = call.report();
      call.close();
      calls.delete(call.callId);
      totals.deleted++;
      return {
        created: Math.floor(call.created / 1000),
        'last signal': Math.floor(call.lastSignal / 1000),
        ...report,
      };
    },
    query: (args) => {
      const call = known(args);
      return {
        created: Math.floor(call.created / 1000),
        'last signal': Math.floor(call.lastSignal / 1000),
        ...call.report(),
      };
    },
    list: () => ({ calls: [...calls.keys()] }),
    statistics: () => ({
      statistics: {
        currentstatistics: {
          sessionsown: calls.size,
          sessionsforeign: 0,
          sessionstotal: calls.size,
          transcodedmedia: 0,
          packetrate: 0,
          byterate: 0,
          errorrate: 0,
        },
        totalstatistics: {
          uptime: String(Math.floor((Date.now() - startedAt) / 1000)),
          managedsessions: totals.managed,
          rejectedsessions: 0,
          timeoutsessions: totals.timeouts,
          regularterminatedsessions: totals.deleted,
          forcedterminatedsessions: 0,
          relayedpackets: 0,
          relayedpacketerrors: 0,
        },
      },
    }),
  };

  return {
    handlers,
    get calls() {
      return calls.size;
    },
    get portsInUse() {
      return ports.inUse;
    },
    close() {
      if (sweep) clearInterval(sweep);
      for (const call of calls.values()) call.close();
      calls.clear();
    },
  };
}
