/**
 * The B2BUA's policy for transfers (REFER, RFC 3515, and the API): a transfer is authorized as a call from the
 * transferor to the target — the same planning (`planUserCall`: the dialled user's registered contacts, or
 * the tenant's routes) and admission (`call-admission.ts`: the tenant's call rate and concurrent calls, the
 * target's and the trunk's concurrent calls) as an INVITE from that user — so that a transfer cannot reach a
 * target, or go over a limit, that the transferor's own call could not.
 */
import { parseUri, SipParseError, uriUser } from '../sip/index.js';
import type { Tenant } from '../store/index.js';
import { takeLimits, tenantOverLimit, type AdmissionDeps } from './call-admission.js';
import { planUserCall, type PlanningDeps } from './call-planning.js';
import type { TransferAsk, TransferPlan, TransferRefusal } from './call/call-types.js';

const forbidden = (warning: string): TransferRefusal => ({ status: 403, phrase: 'Forbidden', warning });

/** The user and domain of a sip/sips AOR, or undefined. */
function userOf(aor: string): { user: string; host: string } | undefined {
  try {
    const uri = parseUri(aor);
    if ((uri.scheme === 'sip' || uri.scheme === 'sips') && 'host' in uri && uri.user)
      return { user: uri.user, host: uri.host.toLowerCase() };
    return undefined;
  } catch (err) {
    if (err instanceof SipParseError) return undefined;
    throw err;
  }
}

/**
 * Where a transfer of one of `tenant`'s calls goes, with the limits of the new leg held, or why not: 403 for a
 * target the transferor could not call (no such user or route, a limit, a transferor that is no user of the
 * tenant), 480 for a user of the tenant with no registered contact.
 */
export async function planTransfer(
  deps: PlanningDeps & AdmissionDeps,
  tenant: Tenant,
  ask: TransferAsk,
): Promise<TransferPlan | TransferRefusal> {
  const transferor = ask.transferor ? userOf(ask.transferor) : undefined;
  if (!ask.transferor || !transferor || transferor.host !== tenant.sipDomain.toLowerCase())
    return forbidden('Only a user of the tenant may transfer this call');
  const dialled = uriUser(ask.target);
  if (!dialled) return forbidden('The transfer target names no user or number');
  const current = await deps.tenants.findByDomain(tenant.sipDomain);
  if (!current || current.status !== 'active') return forbidden('Tenant suspended');
  const caller = await deps.users.findCredentials(current.sipDomain, transferor.user);
  if (!caller?.enabled) return forbidden('The transferor is not an enabled user of the tenant');

  const planned = await planUserCall(deps, current, caller, { aor: ask.transferor, dialled });
  if ('refusal' in planned) {
    const { refusal } = planned;
    const warning = refusal.warning ?? `The transferor could not call ${dialled}`;
    return refusal.status === 480
      ? { status: 480, phrase: 'Temporarily Unavailable', warning }
      : forbidden(warning);
  }
  // The transferred call replaces the transferor's: it is one more call attempt for the rate, not one more
  // concurrent call.
  const over = await tenantOverLimit(deps, {
    id: current.id,
    maxCallsPerSecond: current.maxCallsPerSecond,
    maxConcurrentCalls: current.maxConcurrentCalls === null ? null : current.maxConcurrentCalls + 1,
  });
  if (over) return forbidden(over.warning ?? 'Tenant limit reached');
  // The transferor's own count is held by the call it leaves (and given back when it leaves); the target's
  // and the trunk's are taken now.
  const held = await takeLimits(
    deps,
    planned.limits.filter((l) => l.party !== 'caller'),
  );
  if ('refusal' in held) return forbidden(held.refusal.warning ?? 'Limit reached');
  const { direction, to, trunkId } = planned.identity;
  return {
    forks: planned.forks,
    mode: planned.mode,
    identity: { direction, to, ...(trunkId ? { trunkId } : {}) },
    aor: direction === 'internal' ? to : undefined,
    release: () => held.release(),
  };
}
