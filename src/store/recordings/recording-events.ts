import type { Queryable } from '../database/database.js';
import type { EventStreams } from '../shared-state/shared-state.js';
import { createRecordingRepository, type Recording, type RecordingInput } from './recording-repository.js';

/**
 * Recordings stored, as the gateway publishes them once their row is in the store: the worker turns each into
 * a `recording.ready` webhook (`webhookEventOfEntry`), the API's live event hub into a live event.
 */
export const RECORDING_EVENTS_STREAM = 'voxgate:recording-events';

export interface RecordingReady {
  recordingId: string;
  tenantId: string;
  callId: string;
  /** Epoch milliseconds. */
  startedAt: number;
  endedAt: number;
  /** The names of its files (`call.pcap`, `<party tag>-1.wav` …). */
  files: string[];
}

export function encodeRecordingReady(r: RecordingReady): Record<string, string> {
  return {
    recordingId: r.recordingId,
    tenantId: r.tenantId,
    callId: r.callId,
    startedAt: String(r.startedAt),
    endedAt: String(r.endedAt),
    files: JSON.stringify(r.files),
  };
}

/** Parses stream fields back; throws a one-line Error naming the bad field. */
export function decodeRecordingReady(fields: Record<string, string>): RecordingReady {
  const need = (name: string): string => {
    const v = fields[name];
    if (v === undefined || v === '') throw new Error(`recording event: missing field ${name}`);
    return v;
  };
  const num = (name: string): number => {
    const n = Number(need(name));
    if (!Number.isFinite(n)) throw new Error(`recording event: field ${name} is not a number`);
    return n;
  };
  let files: unknown;
  try {
    files = JSON.parse(need('files'));
  } catch {
    throw new Error('recording event: field files is not JSON');
  }
  if (!Array.isArray(files) || !files.every((f) => typeof f === 'string'))
    throw new Error('recording event: field files is not a list of names');
  return {
    recordingId: need('recordingId'),
    tenantId: need('tenantId'),
    callId: need('callId'),
    startedAt: num('startedAt'),
    endedAt: num('endedAt'),
    files: files as string[],
  };
}

/**
 * Records a recording the relay has stored: its row first, then the event (so that whoever gets the event —
 * a webhook receiver — finds the recording through the API). An event that cannot be published leaves the
 * row (the recording is listed, only its webhook is missing) and rejects.
 */
export async function storeRecording(
  deps: { db: Queryable; events: Pick<EventStreams, 'publish'> },
  input: RecordingInput,
): Promise<Recording> {
  const recording = await createRecordingRepository(deps.db).add(input);
  await deps.events.publish(
    RECORDING_EVENTS_STREAM,
    encodeRecordingReady({
      recordingId: recording.id,
      tenantId: recording.tenantId,
      callId: recording.callId,
      startedAt: recording.startedAt.getTime(),
      endedAt: recording.endedAt.getTime(),
      files: recording.files.map((f) => f.name),
    }),
  );
  return recording;
}
