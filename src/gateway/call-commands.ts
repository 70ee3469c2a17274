import { CALL_COMMANDS_STREAM, decodeCallCommand, type CallCommand } from '../store/index.js';
import type { EventStreams } from '../store/shared-state/index.js';
import type { B2bua } from './b2bua.js';
import { followStream } from '../store/shared-state/index.js';

/** What a call ended through the API says in its record (and in the Reason header of its BYEs). */
export const ENDED_THROUGH_API = 'ended through the API';

/**
 * A command older than this is not carried out: a replica's group reads the stream from its start, and a
 * command given while no replica held the call must not end a later one.
 */
const MAX_COMMAND_AGE_MS = 60_000;

/**
 * Carries out the call commands addressed to this replica (`gatewayId`, as its live calls name it): reads the
 * call command stream in a consumer group of its own and ends, transfers or records each call it holds. `onCommand` is
 * told of every command for this replica and whether it was carried out (the call may have ended meanwhile; a
 * transfer may be refused — `refused` says why — or, once under way, fail like a REFER's, in the records).
 */
export function followCallCommands(options: {
  events: Pick<EventStreams, 'consume' | 'ack' | 'dropGroup'>;
  b2bua: Pick<B2bua, 'end' | 'transfer' | 'record'>;
  gatewayId: string;
  group: string;
  onCommand?: (command: CallCommand, done: boolean, refused?: string) => void;
  onError: (err: unknown) => void;
  blockMs?: number;
  now?: () => number;
}): { stop(): Promise<void> } {
  const now = options.now ?? Date.now;
  return followStream({
    events: options.events,
    stream: CALL_COMMANDS_STREAM,
    group: options.group,
    onEntries: (entries) => {
      for (const entry of entries) {
        const command = decodeCallCommand(entry.fields);
        if (!command || command.gateway !== options.gatewayId) continue;
        if (now() - command.at > MAX_COMMAND_AGE_MS) continue;
        if (command.type === 'hangup') {
          const done = options.b2bua.end(command.callId, 'api', ENDED_THROUGH_API);
          options.onCommand?.(command, done);
          continue;
        }
        if (command.type === 'record') {
          options.b2bua
            .record(command.callId, command.recording === 'start')
            .then((refused) => options.onCommand?.(command, !refused, refused?.warning))
            .catch(options.onError);
          continue;
        }
        options.b2bua
          .transfer(command.callId, command.party, command.target)
          .then((refused) => options.onCommand?.(command, !refused, refused?.warning))
          .catch(options.onError);
      }
    },
    onError: options.onError,
    ...(options.blockMs === undefined ? {} : { blockMs: options.blockMs }),
  });
}
