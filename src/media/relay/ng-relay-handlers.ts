import type { NgHandlers } from '../ng/ng-default-handlers.js';
import type { NgDictionary } from '../ng/ng-message.js';
import { SdpParseError } from '../sdp/sdp-error.js';
import { need, sdpFlagsOf } from './ng-args.js';
import { MediaRelayError } from './relay-errors.js';
import type { SessionTable } from './session-table.js';

const seconds = (ms: number) => Math.floor(ms / 1000);

/** Packet, byte and error rates per second between two `statistics` commands (RTPengine's current rates). */
function rateMeter(table: SessionTable): () => { packetrate: number; byterate: number; errorrate: number } {
  let last = { at: Date.now(), ...table.counters };
  let rates = { packetrate: 0, byterate: 0, errorrate: 0 };
  return () => {
    const now = Date.now();
    const elapsed = (now - last.at) / 1000;
    if (elapsed >= 1) {
      const c = table.counters;
      rates = {
        packetrate: Math.round((c.packets - last.packets) / elapsed),
        byterate: Math.round((c.bytes - last.bytes) / elapsed),
        errorrate: Math.round((c.errors - last.errors) / elapsed),
      };
      last = { at: now, ...c };
    }
    return rates;
  };
}

/**
 * RTPengine's ng data-plane commands over the session table: `offer` and `answer` anchor a call and return the
 * rewritten SDP, `query` and `delete` return its stats (a call the media timeout ended keeps its final stats
 * for a while, with `timed out`), `list` the call-ids, `statistics` the relay's totals.
 */
export function ngRelayHandlers(table: SessionTable): NgHandlers {
  const rates = rateMeter(table);

  const reportOf = (callId: string): NgDictionary => {
    const call = table.get(callId);
    if (call) {
      return {
        created: seconds(call.created),
        'last signal': seconds(call.lastSignal),
        ...call.report(),
        // voxgate's own key (RTPengine has none): why the call's media cannot flow.
        ...(call.dtlsFailure ? { 'media failure': `DTLS-SRTP failed: ${call.dtlsFailure}` } : {}),
      };
    }
    const ended = table.timedOutCall(callId);
    if (!ended) throw new MediaRelayError('MEDIA_UNKNOWN_CALL', 'Unknown call-id');
    return {
      created: seconds(ended.created),
      'last signal': seconds(ended.lastSignal),
      'timed out': seconds(ended.timedOutAt),
      ...ended.report,
    };
  };

  const known = (args: NgDictionary) => {
    const call = table.get(need(args, 'call-id', 'call-id'));
    if (!call) throw new MediaRelayError('MEDIA_UNKNOWN_CALL', 'Unknown call-id');
    return call;
  };

  const sdpCommand = async (args: NgDictionary, answer: boolean): Promise<NgDictionary> => {
    const callId = need(args, 'call-id', 'call-id');
    const fromTag = need(args, 'from-tag', 'from-tag');
    const toTag = answer ? need(args, 'to-tag', 'to-tag') : undefined;
    const sdp = need(args, 'sdp', 'SDP body');
    const flags = sdpFlagsOf(args);
    if (answer && !table.get(callId)) throw new MediaRelayError('MEDIA_UNKNOWN_CALL', 'Unknown call-id');
    const call = table.open(callId);
    try {
      // ng: an answer's SDP comes from the to-tag party and goes to the from-tag party (the offerer).
      const rewritten = toTag
        ? await call.sdpFrom(toTag, sdp, flags, fromTag)
        : await call.sdpFrom(fromTag, sdp, flags);
      if (flags.recordCall) {
        // A recording that cannot start does not fail the call: the reply says why in a warning.
        const refused = await table.startRecording(call).then(
          () => undefined,
          (err: unknown) => (err instanceof Error ? err.message : String(err)),
        );
        if (refused) return { sdp: rewritten, warning: refused };
      }
      return { sdp: rewritten };
    } catch (err) {
      table.discard(call);
      if (err instanceof SdpParseError) {
        throw new MediaRelayError('MEDIA_BAD_SDP', `Failed to parse SDP: ${err.message}`, { cause: err });
      }
      throw err;
    }
  };

  return {
    ping: () => ({ result: 'pong' }),
    offer: (args) => sdpCommand(args, false),
    answer: (args) => sdpCommand(args, true),
    delete: (args) => {
      const callId = need(args, 'call-id', 'call-id');
      // RTPengine answers a delete of a call it does not know with `ok` and this warning (deleting twice, or
      // after the media timeout, is not an error).
      if (!table.get(callId) && !table.timedOutCall(callId)) {
        return { warning: "Call-ID not found or tags didn't match" };
      }
      const reply = reportOf(callId);
      const call = table.get(callId);
      if (call) table.end(call, 'delete');
      else table.forgetTimedOut(callId);
      return reply;
    },
    query: (args) => reportOf(need(args, 'call-id', 'call-id')),
    'start recording': async (args) => {
      await table.startRecording(known(args));
      return {};
    },
    'stop recording': async (args) => {
      const callId = need(args, 'call-id', 'call-id');
      // A call the media timeout ended was stopped then: its keys, once stored, go to the first stop after.
      const ended = table.get(callId) ? undefined : table.timedOutCall(callId);
      if (ended?.recording) {
        const keys = ended.recording;
        ended.recording = undefined;
        return { recordings: await keys };
      }
      return { recordings: await table.stopRecording(known(args)) };
    },
    list: () => ({ calls: table.ids() }),
    statistics: () => ({
      statistics: {
        currentstatistics: {
          sessionsown: table.size,
          sessionsforeign: 0,
          sessionstotal: table.size,
          transcodedmedia: 0,
          ...rates(),
        },
        totalstatistics: {
          uptime: String(seconds(Date.now() - table.startedAt)),
          managedsessions: table.totals.managed,
          rejectedsessions: 0,
          timeoutsessions: table.totals.timeouts,
          regularterminatedsessions: table.totals.deleted,
          forcedterminatedsessions: 0,
          relayedpackets: table.counters.packets,
          relayedbytes: table.counters.bytes,
          relayedpacketerrors: table.counters.errors,
        },
      },
    }),
  };
}
