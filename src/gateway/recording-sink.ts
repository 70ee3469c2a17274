import { storeRecording, type Queryable } from '../store/index.js';
import type { EventStreams } from '../store/shared-state/index.js';
import type { RecordingSink } from './b2bua.js';

/**
 * Lists the recordings the relay stored: a row in the store (what the API's recordings resource reads), then
 * a `recording.ready` event for the worker's webhooks. The gateway is the one that learns the files' keys
 * (from the relay's `stop recording` reply), and it reaches the store and shared state in every deployment.
 */
export function createStoreRecordingSink(deps: {
  db: Queryable;
  events: Pick<EventStreams, 'publish'>;
}): RecordingSink {
  return {
    async stored(recording) {
      await storeRecording(deps, {
        tenantId: recording.tenantId,
        callId: recording.callId,
        startedAt: new Date(recording.startedAt),
        endedAt: new Date(recording.endedAt),
        files: recording.keys.map((key) => ({ name: key.slice(key.lastIndexOf('/') + 1), key })),
      });
    },
  };
}
