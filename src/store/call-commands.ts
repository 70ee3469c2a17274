/**
 * The call command contract between the API (which publishes) and the gateway replicas (which carry commands
 * out). The API runs in any process and cannot reach a call, which lives in the memory of the gateway replica
 * that handles it; the live call in shared state names that replica (`LiveCall.gateway`). A command goes onto
 * the shared event stream `CALL_COMMANDS_STREAM` with the replica it is for; every replica reads the stream in
 * a consumer group of its own and carries out the commands addressed to it whose call it holds.
 *
 * A call placed through the API (`originate`, click-to-call) has no replica yet: it names none, and the replicas
 * read the same stream in one consumer group they share (`PLACED_CALLS_GROUP`), which hands each entry to one
 * of them — the one that takes it places the call and holds it from then on.
 */
export const CALL_COMMANDS_STREAM = 'voxgate:call-commands';

/** The consumer group every gateway replica reads `originate` commands in: each command goes to one replica. */
export const PLACED_CALLS_GROUP = 'gateway-placed-calls';

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
 * `record`: start or stop recording the call (its recording policy permitting: not `off`).
 * `hangup`: end the call — BYE on both legs once answered, before that CANCEL to the callee and 487.
 * `transfer`: a blind transfer — the party `party` stays and is connected to `target` (a user of the tenant or
 * a number), authorized as a call from the other party, which is released once the target answers.
 */
export type CallCommand =
  | (CallCommandBase & { type: 'hangup' })
  | (CallCommandBase & { type: 'transfer'; party: 'caller' | 'callee'; target: string })
  | (CallCommandBase & { type: 'record'; recording: 'start' | 'stop' });

/**
 * `originate`: click-to-call — ring `from` (a user of the tenant, or a number through its routes) and, once it
 * answers, call `to` as if `from` had dialled it. `callId` is the id the API gave the call (its live call's and
 * its CDR's); `domain` the tenant's SIP domain; `callerId` what `from` is shown (default: `to`);
 * `timeoutSeconds` how long each party is rung (default: the gateway's ring timeout).
 */
export interface OriginateCommand {
  type: 'originate';
  callId: string;
  tenantId: string;
  domain: string;
  from: string;
  to: string;
  callerId?: string;
  timeoutSeconds?: number;
  at: number;
}

export function encodeOriginateCommand(command: OriginateCommand): Record<string, string> {
  return {
    type: command.type,
    callId: command.callId,
    tenantId: command.tenantId,
    domain: command.domain,
    from: command.from,
    to: command.to,
    at: String(command.at),
    ...(command.callerId === undefined ? {} : { callerId: command.callerId }),
    ...(command.timeoutSeconds === undefined ? {} : { timeoutSeconds: String(command.timeoutSeconds) }),
  };
}

/** The `originate` command the fields carry, or undefined (another command, or one this version cannot read). */
export function decodeOriginateCommand(fields: Record<string, string>): OriginateCommand | undefined {
  const { type, callId, tenantId, domain, from, to, callerId } = fields;
  const at = Number(fields.at);
  const timeout = fields.timeoutSeconds === undefined ? undefined : Number(fields.timeoutSeconds);
  if (type !== 'originate' || !callId || !tenantId || !domain || !from || !to || !Number.isFinite(at))
    return undefined;
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0)) return undefined;
  return {
    type,
    callId,
    tenantId,
    domain,
    from,
    to,
    at,
    ...(callerId ? { callerId } : {}),
    ...(timeout === undefined ? {} : { timeoutSeconds: timeout }),
  };
}

export function encodeCallCommand(command: CallCommand): Record<string, string> {
  return {
    type: command.type,
    callId: command.callId,
    tenantId: command.tenantId,
    gateway: command.gateway,
    at: String(command.at),
    ...(command.type === 'transfer' ? { party: command.party, target: command.target } : {}),
    ...(command.type === 'record' ? { recording: command.recording } : {}),
  };
}

/** The command the fields carry, or undefined when they are not one this version knows (skipped, not fatal). */
export function decodeCallCommand(fields: Record<string, string>): CallCommand | undefined {
  const { type, callId, tenantId, gateway, party, target, recording } = fields;
  const at = Number(fields.at);
  if (!callId || !tenantId || !gateway || !Number.isFinite(at)) return undefined;
  if (type === 'hangup') return { type, callId, tenantId, gateway, at };
  if (type === 'transfer' && (party === 'caller' || party === 'callee') && target)
    return { type, callId, tenantId, gateway, at, party, target };
  if (type === 'record' && (recording === 'start' || recording === 'stop'))
    return { type, callId, tenantId, gateway, at, recording };
  return undefined;
}
