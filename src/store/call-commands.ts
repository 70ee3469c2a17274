/**
 * The call command contract between the API (which publishes) and the gateway replicas (which carry commands
 * out). The API runs in any process and cannot reach a call, which lives in the memory of the gateway replica
 * that handles it; the live call in shared state names that replica (`LiveCall.gateway`). A command goes onto
 * the shared event stream `CALL_COMMANDS_STREAM` with the replica it is for; every replica reads the stream in
 * a consumer group of its own and carries out the commands addressed to it whose call it holds.
 */
export const CALL_COMMANDS_STREAM = 'voxgate:call-commands';

interface CallCommandBase {
  /** The caller-side Call-ID (the live call's and the CDR's id). */
  callId: string;
  tenantId: string;
  /** The replica that holds the call, as the live call names it (`LiveCall.gateway`). */
  gateway: string;
  /** Epoch ms when the command was given: a replica ignores a stale one (read from the stream's start). */
  at: number;
}

/**
 * `hangup`: end the call — BYE on both legs once answered, before that CANCEL to the callee and 487.
 * `transfer`: a blind transfer — the party `party` stays and is connected to `target` (a user of the tenant or
 * a number), authorized as a call from the other party, which is released once the target answers.
 */
export type CallCommand =
  | (CallCommandBase & { type: 'hangup' })
  | (CallCommandBase & { type: 'transfer'; party: 'caller' | 'callee'; target: string });

export function encodeCallCommand(command: CallCommand): Record<string, string> {
  return {
    type: command.type,
    callId: command.callId,
    tenantId: command.tenantId,
    gateway: command.gateway,
    at: String(command.at),
    ...(command.type === 'transfer' ? { party: command.party, target: command.target } : {}),
  };
}

/** The command the fields carry, or undefined when they are not one this version knows (skipped, not fatal). */
export function decodeCallCommand(fields: Record<string, string>): CallCommand | undefined {
  const { type, callId, tenantId, gateway, party, target } = fields;
  const at = Number(fields.at);
  if (!callId || !tenantId || !gateway || !Number.isFinite(at)) return undefined;
  if (type === 'hangup') return { type, callId, tenantId, gateway, at };
  if (type === 'transfer' && (party === 'caller' || party === 'callee') && target)
    return { type, callId, tenantId, gateway, at, party, target };
  return undefined;
}
