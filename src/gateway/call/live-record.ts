/**
 * The record a call keeps now: the original, or after a transfer the transferred call's; with the relay's
 * totals when it began, so that a transferred call's media stats are its own.
 */
import type { CallDisposition, HangupParty } from '../../store/index.js';
import type { MediaTotals } from '../media-anchor.js';
import type { CallRecord } from './call-record.js';
import type { Side } from './call-types.js';

export class LiveRecord {
  /** The relay's totals when the current record began. */
  private mediaBase: MediaTotals | undefined;

  constructor(public current: CallRecord) {}

  /**
   * `record` — the new party's call — is answered and is the call's record from now on; the one before ends,
   * answered, hung up by `side` with `reason`, with the media it had (`stats`: the relay's totals now).
   */
  async switchTo(
    record: CallRecord,
    side: Side,
    reason: string,
    stats: () => Promise<MediaTotals | undefined>,
  ): Promise<void> {
    const at = Date.now();
    const original = this.current;
    this.current = record;
    record.answeredAt = at;
    const totals = await stats();
    original.emit('ended', {
      endedAt: at,
      disposition: 'answered',
      sipCode: 200,
      hangupBy: side,
      reason,
      ...(totals ? { media: since(totals, this.mediaBase) } : {}),
    });
    this.mediaBase = totals;
    record.emit('answered');
  }

  /** How the current record ends now; the returned function emits it once the relay's totals are known. */
  ending(
    disposition: CallDisposition,
    sipCode: number,
    hangupBy: HangupParty,
    reason: string | undefined,
  ): (media: MediaTotals | undefined) => void {
    const endedAt = Date.now();
    const base = this.mediaBase;
    const record = this.current;
    return (media) =>
      record.emit('ended', {
        endedAt,
        disposition,
        sipCode,
        hangupBy,
        ...(reason ? { reason } : {}),
        ...(media ? { media: since(media, base) } : {}),
      });
  }
}

/** What the relay counted since `base` (the totals when the record began; jitter is the later figure). */
function since(totals: MediaTotals, base: MediaTotals | undefined): MediaTotals {
  if (!base) return totals;
  const minus = (
    now: MediaTotals['callerToCallee'],
    before: MediaTotals['callerToCallee'],
  ): MediaTotals['callerToCallee'] =>
    now && {
      packets: Math.max(0, now.packets - (before?.packets ?? 0)),
      bytes: Math.max(0, now.bytes - (before?.bytes ?? 0)),
      lost: Math.max(0, now.lost - (before?.lost ?? 0)),
      jitterMs: now.jitterMs,
    };
  const callerToCallee = minus(totals.callerToCallee, base.callerToCallee);
  const calleeToCaller = minus(totals.calleeToCaller, base.calleeToCaller);
  return { ...(callerToCallee ? { callerToCallee } : {}), ...(calleeToCaller ? { calleeToCaller } : {}) };
}
