import {
  CALL_COMMANDS_STREAM,
  decodeOriginateCommand,
  PLACED_CALLS_GROUP,
  type OriginateCommand,
} from '../store/index.js';
import type { EventStreams } from '../store/shared-state/index.js';
import type { B2bua } from './b2bua.js';
import { followStream } from '../store/shared-state/index.js';

/** An `originate` command older than this is not carried out: nobody is rung for a request long answered. */
const MAX_COMMAND_AGE_MS = 60_000;

/**
 * Places the calls the API asks for (`originate` commands, click-to-call). No replica holds such a call yet,
 * so the command names none: every replica reads the call command stream in the one consumer group they share
 * (`PLACED_CALLS_GROUP`, each as its own consumer, `consumer`), which hands each entry to one of them — Redis
 * streams' XREADGROUP, the memory state's groups alike. The replica that reads it places the call and holds it;
 * the live call names it, and the API's hang-ups and transfers reach it like any call's. The group outlives a
 * replica (it is not dropped at `stop`). Other commands of the stream are skipped here (each replica's own
 * group carries them out, `call-commands.ts`).
 */
export function followPlacedCalls(options: {
  events: Pick<EventStreams, 'consume' | 'ack' | 'dropGroup'>;
  b2bua: Pick<B2bua, 'place'>;
  consumer: string;
  onPlaced?: (command: OriginateCommand) => void;
  onError: (err: unknown) => void;
  blockMs?: number;
  now?: () => number;
}): { stop(): Promise<void> } {
  const now = options.now ?? Date.now;
  return followStream({
    events: options.events,
    stream: CALL_COMMANDS_STREAM,
    group: PLACED_CALLS_GROUP,
    consumer: options.consumer,
    onEntries: (entries) => {
      for (const entry of entries) {
        const command = decodeOriginateCommand(entry.fields);
        if (!command || now() - command.at > MAX_COMMAND_AGE_MS) continue;
        options.onPlaced?.(command);
        options.b2bua.place(command).catch(options.onError);
      }
    },
    onError: options.onError,
    ...(options.blockMs === undefined ? {} : { blockMs: options.blockMs }),
  });
}
