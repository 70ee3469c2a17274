/**
 * Admission of a planned call: the tenant's calls-per-second and concurrent-call limits (checked against
 * shared state), and the concurrent-call limits of users and trunks, which are counted up when the call is
 * admitted and held for its whole duration. A call over a limit is refused (`refuse`) and recorded.
 */
import type { ServerTransaction, SipRequest } from '../sip/index.js';
import type { Tenant } from '../store/index.js';
import type { SharedState } from '../store/shared-state/index.js';
import type { CallSettings } from './b2bua-call.js';
import type { GatewayTrunk } from './call-routing.js';
import { refuse, type Attempt, type CallRecordDeps, type CallRefusedEvent } from './call-records.js';

export interface AdmissionDeps extends CallRecordDeps {
  state: Pick<SharedState, 'calls' | 'events' | 'counters'>;
  settings: Pick<CallSettings, 'maxDurationMs' | 'ringTimeoutMs'>;
}

/** A concurrent-call limit a call counts against (a user's, a trunk's), and how a call over it is refused. */
export interface Limit {
  key: string;
  max: number;
  status: number;
  reasonPhrase: string;
  reason: CallRefusedEvent['reason'];
  warning: string;
  /** A user's limit counts that party of the call: given back when a transfer takes the party away. */
  party?: 'caller' | 'callee';
}

/** Gives back a call's counts: those of one party (it left through a transfer), or all of them. */
export type ReleaseLimits = (party?: 'caller' | 'callee') => void;

export const userLimit = (
  userId: string,
  max: number | null | undefined,
  as: 'caller' | 'callee',
): Limit[] =>
  max === null || max === undefined
    ? []
    : [
        {
          key: `gateway:active:user:${userId}`,
          max,
          // A caller at its limit may not place the call (403); a callee at its limit is busy (486).
          status: as === 'caller' ? 403 : 486,
          reasonPhrase: as === 'caller' ? 'Forbidden' : 'Busy Here',
          reason: 'user-concurrent-limit',
          warning: 'User concurrent call limit reached',
          party: as,
        },
      ];

export const trunkLimit = (trunk: GatewayTrunk): Limit[] =>
  trunk.maxConcurrentCalls === null || trunk.maxConcurrentCalls === undefined
    ? []
    : [
        {
          key: `gateway:active:trunk:${trunk.id}`,
          max: trunk.maxConcurrentCalls,
          status: 503,
          reasonPhrase: 'Service Unavailable',
          reason: 'trunk-concurrent-limit',
          warning: 'Trunk concurrent call limit reached',
        },
      ];

/**
 * The tenant's calls-per-second and concurrent-call limits: true when the call may go on, else it has been
 * refused 503 (and recorded when `attempt` says who it was).
 */
export async function admitToTenant(
  deps: AdmissionDeps,
  request: SipRequest,
  tx: ServerTransaction,
  tenant: Pick<Tenant, 'id' | 'maxCallsPerSecond' | 'maxConcurrentCalls'>,
  attempt: Attempt | undefined,
): Promise<boolean> {
  const refusal = await tenantOverLimit(deps, tenant);
  if (!refusal) return true;
  refuse(deps, request, tx, refusal, attempt);
  return false;
}

/** The tenant's limit a new call would go over (checked in order, the first one reached), if any. */
export async function tenantOverLimit(
  deps: AdmissionDeps,
  tenant: Pick<Tenant, 'id' | 'maxCallsPerSecond' | 'maxConcurrentCalls'>,
): Promise<Refusal | undefined> {
  if (tenant.maxCallsPerSecond !== null) {
    const rate = await deps.state.counters.hit(`gateway:cps:${tenant.id}`, 1);
    if (rate > tenant.maxCallsPerSecond) return TENANT_RATE_LIMIT;
  }
  if (tenant.maxConcurrentCalls !== null) {
    const active = await deps.state.calls.count(tenant.id);
    if (active >= tenant.maxConcurrentCalls) return TENANT_CONCURRENT_LIMIT;
  }
  return undefined;
}

type Refusal = Parameters<typeof refuse>[3];

/** §21.5.4 503: the tenant is over its calls-per-second or concurrent-call limit. */
const TENANT_RATE_LIMIT: Refusal = {
  status: 503,
  phrase: 'Service Unavailable',
  reason: 'tenant-rate-limit',
  warning: 'Tenant call rate limit reached',
};
const TENANT_CONCURRENT_LIMIT: Refusal = {
  status: 503,
  phrase: 'Service Unavailable',
  reason: 'tenant-concurrent-limit',
  warning: 'Tenant concurrent call limit reached',
};

/**
 * Counts the call against each of `limits`: the release function to call when the call ends, or undefined
 * when one limit was over — then every count taken is given back and the call has been refused.
 */
export async function holdLimits(
  deps: AdmissionDeps,
  request: SipRequest,
  tx: ServerTransaction,
  limits: readonly Limit[],
  attempt: Attempt | undefined,
): Promise<ReleaseLimits | undefined> {
  const held = await takeLimits(deps, limits);
  if ('release' in held) return held.release;
  refuse(deps, request, tx, held.refusal, attempt);
  return undefined;
}

/**
 * Counts a call against each of `limits`: the release function to call when the call ends, or — when one
 * limit was over, and every count taken has been given back — the refusal.
 */
export async function takeLimits(
  deps: AdmissionDeps,
  limits: readonly Limit[],
): Promise<{ release: ReleaseLimits } | { refusal: Refusal }> {
  // A count outlives the longest call, so one a crashed process never released lapses.
  const ttl = Math.ceil((deps.settings.maxDurationMs + deps.settings.ringTimeoutMs) / 1000) + 60;
  let held: Limit[] = [];
  const release: ReleaseLimits = (party) => {
    const given = held.filter((l) => party === undefined || l.party === party);
    held = held.filter((l) => !given.includes(l));
    for (const { key } of given) {
      deps.state.counters
        .incr(key, -1, ttl)
        .catch((err: unknown) => deps.warn({ err, key }, 'limit not released'));
    }
  };
  for (const limit of limits) {
    const active = await deps.state.counters.incr(limit.key, 1, ttl);
    held.push(limit);
    if (active > limit.max) {
      release();
      return {
        refusal: {
          status: limit.status,
          phrase: limit.reasonPhrase,
          reason: limit.reason,
          warning: limit.warning,
        },
      };
    }
  }
  return { release };
}
