import { PROVISIONING_CHANGES_STREAM } from '../store/index.js';
import type { EventStreams } from '../store/shared-state/index.js';
import { followStream } from '../store/shared-state/index.js';

/**
 * Reads the provisioning change stream in this gateway's own consumer group (every replica sees every change)
 * and calls `onChange` once per batch of announcements, then acknowledges them. A failed read is reported and
 * retried a second later. `stop` ends the loop after the read in progress and drops the group.
 */
export function followProvisioningChanges(options: {
  events: Pick<EventStreams, 'consume' | 'ack' | 'dropGroup'>;
  group: string;
  onChange: () => void;
  onError: (err: unknown) => void;
  blockMs?: number;
}): { stop(): Promise<void> } {
  return followStream({
    events: options.events,
    stream: PROVISIONING_CHANGES_STREAM,
    group: options.group,
    onEntries: () => options.onChange(),
    onError: options.onError,
    ...(options.blockMs === undefined ? {} : { blockMs: options.blockMs }),
  });
}
