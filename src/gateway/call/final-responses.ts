/**
 * What the forks' final responses mean for the call: which one the caller gets (§16.7), whether a route
 * fails over to its next trunk, and how a failed setup is recorded.
 */
import type { ExtraHeaders } from '../../sip/index.js';
import type { CallDisposition } from '../../store/index.js';

/** Final responses after which the next trunk of a route is tried. */
export function failsOver(status: number): boolean {
  return status === 408 || (status >= 500 && status < 600);
}

/**
 * §16.7 step 6, applied by the B2BUA to the forks' final responses: "the proxy MUST choose the best final
 * response … A proxy SHOULD give preference to response that provide information affecting resubmission of
 * this request, such as 401, 407, 415, 420, and 484 … If the selected response is a 503 (Service Unavailable)
 * response, the proxy MUST generate a 500 (Server Error) response". A 6xx wins outright (§16.7 step 5).
 * Challenges of a callee are ours to answer, not the caller's: they become 480.
 */
export function bestFinal(finals: readonly { status: number; reason: string; headers: ExtraHeaders }[]): {
  status: number;
  reason: string;
  headers: ExtraHeaders;
} {
  const global = finals.find((f) => f.status >= 600);
  const pick = global ?? [...finals].sort((a, b) => classRank(a.status) - classRank(b.status))[0];
  if (!pick) return { status: 480, reason: 'Temporarily Unavailable', headers: {} };
  if (pick.status === 503) return { status: 500, reason: 'Server Internal Error', headers: {} };
  if (pick.status === 401 || pick.status === 407) {
    return { status: 480, reason: 'Temporarily Unavailable', headers: {} };
  }
  return pick;
}

function classRank(status: number): number {
  // 4xx first (most informative to the caller), then 5xx, then 3xx (a redirect the B2BUA did not follow).
  const cls = Math.floor(status / 100);
  const order = cls === 4 ? 0 : cls === 5 ? 1 : 2;
  return order * 1000 + (status === 408 ? 999 : status % 100);
}

/** How a failed setup is recorded. */
export function dispositionOf(status: number): CallDisposition {
  if (status === 486 || status === 600) return 'busy';
  if (status === 480 || status === 408) return 'no-answer';
  if (status === 487) return 'cancelled';
  if (status >= 500 && status < 600) return 'failed';
  return 'rejected';
}
