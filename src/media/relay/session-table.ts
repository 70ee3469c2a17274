import { channel } from 'node:diagnostics_channel';
import { newDtlsIdentity } from '../dtls/index.js';
import { CallRecorder } from '../recording/call-recorder.js';
import type { ObjectStore } from '../recording/object-store.js';
import { MediaCall, type CallReport, type RelayCounters } from './media-call.js';
import type { PortAllocator } from './port-allocator.js';
import { MediaRelayError } from './relay-errors.js';
import type { StreamStats } from './rtp-stats.js';

/** Tracing hook: a call's recording was stored (its object keys), or failed to be. */
export const mediaRecordingChannel = channel('voxgate:media:recording');
export type MediaRecordingEvent = { callId: string; keys: string[] } | { callId: string; error: string };

/** Where recordings are spooled while the call goes on, and stored when it ends. */
export interface RecordingOptions {
  store: ObjectStore;
  spoolDir: string;
}

/** Tracing hook: a call deleted because no packet and no signal came for the media timeout. */
export const mediaTimeoutChannel = channel('voxgate:media:timeout');
export interface MediaTimeoutEvent {
  callId: string;
  idleMs: number;
}

/** Tracing hook: a call left the relay (its ports are free); the stats of every stream, for metrics. */
export const mediaCallEndedChannel = channel('voxgate:media:call-ended');
export interface MediaCallEndedEvent {
  callId: string;
  reason: 'delete' | 'timeout' | 'shutdown';
  durationMs: number;
  streams: StreamStats[];
}

/** A call the media timeout ended: its final report, kept so that a later `query` or `delete` still gets it. */
export interface TimedOutCall {
  created: number;
  lastSignal: number;
  timedOutAt: number;
  report: CallReport;
  /**
   * The keys of the recording the timeout stopped, once stored: a later `stop recording` (the gateway's, at
   * the call's end) still gets them, once.
   */
  recording?: Promise<string[]>;
}

/** Timed-out calls remembered at most, and for at least this long (or the media timeout, if longer). */
const TIMED_OUT_KEPT = 10_000;
const TIMED_OUT_MIN_MS = 60_000;

/**
 * The relay's calls by ng call-id, the counters all of them share, and the sweep that ends calls idle past the
 * media timeout: ports freed, `mediaTimeoutChannel` told, the final report kept for a while.
 */
export class SessionTable {
  readonly counters: RelayCounters = {
    packets: 0,
    bytes: 0,
    errors: 0,
    srtpDropped: { malformed: 0, auth: 0, replay: 0 },
    stunDropped: { auth: 0, malformed: 0, unexpected: 0 },
    stunAnswered: 0,
    dtlsDropped: 0,
    dtlsConnected: 0,
    dtlsFailed: { malformed: 0, unsupported: 0, fingerprint: 0, crypto: 0, alert: 0, timeout: 0 },
  };
  /** The relay's DTLS certificate, made when it starts (RFC 5763 §5: self-signed, named by its fingerprint). */
  readonly dtls = newDtlsIdentity();
  readonly totals = { managed: 0, timeouts: 0, deleted: 0 };
  readonly startedAt = Date.now();
  private readonly calls = new Map<string, MediaCall>();
  private readonly timedOut = new Map<string, TimedOutCall>();
  /** Recordings of ended calls being stored. */
  private readonly storing = new Set<Promise<unknown>>();
  private readonly sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly ports: PortAllocator,
    private readonly options: { advertised: string; timeoutMs: number; recording?: RecordingOptions },
  ) {
    if (options.timeoutMs > 0) {
      const every = Math.min(1000, Math.max(50, Math.floor(options.timeoutMs / 4)));
      this.sweep = setInterval(() => this.expire(Date.now()), every);
      this.sweep.unref();
    }
  }

  get size(): number {
    return this.calls.size;
  }

  ids(): string[] {
    return [...this.calls.keys()];
  }

  get(callId: string): MediaCall | undefined {
    return this.calls.get(callId);
  }

  timedOutCall(callId: string): TimedOutCall | undefined {
    return this.timedOut.get(callId);
  }

  /** The call, created (with no ports yet) when new; a new offer for a timed-out call-id starts afresh. */
  open(callId: string): MediaCall {
    let call = this.calls.get(callId);
    if (!call) {
      this.timedOut.delete(callId);
      call = new MediaCall(callId, this.ports, {
        advertised: this.options.advertised,
        counters: this.counters,
        dtls: this.dtls,
      });
      this.calls.set(callId, call);
      this.totals.managed++;
    }
    return call;
  }

  /** Starts recording a call (ng `start recording`, or `record call` in an offer or answer). */
  async startRecording(call: MediaCall): Promise<void> {
    const recording = this.options.recording;
    if (!recording) throw new MediaRelayError('MEDIA_RECORDING_OFF', 'Call recording not enabled');
    if (call.recorder) return;
    const recorder = await CallRecorder.open(call.callId, recording.spoolDir, recording.store);
    if (call.recorder || this.calls.get(call.callId) !== call) {
      void recorder.finish().catch(() => undefined); // raced with another start, or the call ended meanwhile
      return;
    }
    call.recorder = recorder;
  }

  /** Stops recording a call and stores the files; resolves with their keys (none when not recording). */
  async stopRecording(call: MediaCall): Promise<string[]> {
    const recorder = call.recorder;
    call.recorder = undefined;
    if (!recorder) return [];
    try {
      const keys = await recorder.finish();
      if (mediaRecordingChannel.hasSubscribers) {
        mediaRecordingChannel.publish({ callId: call.callId, keys } satisfies MediaRecordingEvent);
      }
      return keys;
    } catch (err) {
      if (mediaRecordingChannel.hasSubscribers) {
        mediaRecordingChannel.publish({
          callId: call.callId,
          error: String(err),
        } satisfies MediaRecordingEvent);
      }
      throw err;
    }
  }

  /** Ends a call and frees its ports; its recording, if any, is stored in the background (see `close`). */
  end(call: MediaCall, reason: MediaCallEndedEvent['reason']): void {
    this.finish(call, reason)?.catch(() => undefined);
  }

  /** `end`, and the keys of the call's recording once stored (none when storing failed; undefined: none). */
  private finish(call: MediaCall, reason: MediaCallEndedEvent['reason']): Promise<string[]> | undefined {
    if (this.calls.get(call.callId) !== call) return undefined;
    let stored: Promise<string[]> | undefined;
    if (call.recorder) {
      // A failure is published on the recording channel; the files stay in the spool directory.
      const storing = this.stopRecording(call).catch((): string[] => []);
      stored = storing;
      this.storing.add(storing);
      storing.then(
        () => this.storing.delete(storing),
        () => this.storing.delete(storing),
      );
    }
    const streams = mediaCallEndedChannel.hasSubscribers ? call.streamStats() : [];
    call.close();
    this.calls.delete(call.callId);
    if (reason === 'delete') this.totals.deleted++;
    if (mediaCallEndedChannel.hasSubscribers) {
      mediaCallEndedChannel.publish({
        callId: call.callId,
        reason,
        durationMs: Date.now() - call.created,
        streams,
      } satisfies MediaCallEndedEvent);
    }
    return stored;
  }

  /** Forgets a call that never got a port (its first SDP was refused), without counting it as ended. */
  discard(call: MediaCall): void {
    if (call.portPairs !== 0 || this.calls.get(call.callId) !== call) return;
    call.close();
    this.calls.delete(call.callId);
  }

  forgetTimedOut(callId: string): void {
    this.timedOut.delete(callId);
  }

  private expire(now: number): void {
    for (const call of [...this.calls.values()]) {
      const idle = now - call.lastActivity;
      if (idle < this.options.timeoutMs) continue;
      const report = call.report();
      const recording = this.finish(call, 'timeout');
      this.totals.timeouts++;
      this.timedOut.set(call.callId, {
        created: call.created,
        lastSignal: call.lastSignal,
        timedOutAt: now,
        report,
        ...(recording ? { recording } : {}),
      });
      if (mediaTimeoutChannel.hasSubscribers) {
        mediaTimeoutChannel.publish({ callId: call.callId, idleMs: idle } satisfies MediaTimeoutEvent);
      }
    }
    const keepMs = Math.max(TIMED_OUT_MIN_MS, this.options.timeoutMs);
    for (const [id, entry] of this.timedOut) {
      if (this.timedOut.size <= TIMED_OUT_KEPT && now - entry.timedOutAt < keepMs) break;
      this.timedOut.delete(id);
    }
  }

  /**
   * Ends every call, then waits for the recordings being stored (up to `waitMs`): the object store must not be
   * closed under an upload. What is not stored by then stays in the spool directory, never deleted.
   */
  async close(waitMs = 30_000): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    for (const call of [...this.calls.values()]) this.end(call, 'shutdown');
    this.timedOut.clear();
    if (this.storing.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.storing),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs))),
    ]);
    clearTimeout(timer);
  }
}
