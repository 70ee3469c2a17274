import { PROVISIONING_CHANGES_STREAM } from '../store/index.js';
import type { EventStreams } from '../store/shared-state/index.js';

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
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      try {
        const entries = await options.events.consume(
          PROVISIONING_CHANGES_STREAM,
          options.group,
          options.group,
          {
            count: 100,
            blockMs: options.blockMs ?? 1000,
          },
        );
        if (entries.length === 0) continue;
        options.onChange();
        await options.events.ack(
          PROVISIONING_CHANGES_STREAM,
          options.group,
          entries.map((e) => e.id),
        );
      } catch (err) {
        if (stopped) return;
        options.onError(err);
        await new Promise((r) => setTimeout(r, 1000).unref());
      }
    }
  };
  const running = loop();
  return {
    /** Ends the loop and deletes this replica's group: a replica stopping for good leaves nothing behind. */
    async stop() {
      stopped = true;
      await running;
      await options.events
        .dropGroup(PROVISIONING_CHANGES_STREAM, options.group)
        .catch((err: unknown) => options.onError(err));
    },
  };
}
