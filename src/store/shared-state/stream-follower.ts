import type { EventStreams, StreamEntry } from './shared-state.js';

/**
 * Reads `stream` in this replica's own consumer group `group` (every replica sees every entry) and hands each
 * batch to `onEntries`, then acknowledges it. A failed read or handler is reported and retried a second later.
 * `stop` ends the loop after the read in progress and drops the group: a replica stopping for good leaves
 * nothing behind. With `consumer`, the group is one several replicas share (each entry goes to one of them,
 * each reading as its `consumer`): it is kept at `stop`, for the others.
 */
export function followStream(options: {
  events: Pick<EventStreams, 'consume' | 'ack' | 'dropGroup'>;
  stream: string;
  group: string;
  consumer?: string;
  onEntries: (entries: readonly StreamEntry[]) => void;
  onError: (err: unknown) => void;
  blockMs?: number;
}): { stop(): Promise<void> } {
  const { events, stream, group } = options;
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      try {
        const entries = await events.consume(stream, group, options.consumer ?? group, {
          count: 100,
          blockMs: options.blockMs ?? 1000,
        });
        if (entries.length === 0) continue;
        options.onEntries(entries);
        await events.ack(
          stream,
          group,
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
    async stop() {
      stopped = true;
      await running;
      if (options.consumer !== undefined) return;
      await events.dropGroup(stream, group).catch((err: unknown) => options.onError(err));
    },
  };
}
