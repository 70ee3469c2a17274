// Call-record figures for the console's charts, computed in the browser from the CDR list (GET …/calls):
// calls per hour, answer-seizure ratio, average call duration, post-dial delay, failures by SIP code. No DOM, no
// Preact: the unit tests run it under Node.
export interface Cdr {
  callId: string;
  direction: string;
  from: string;
  to: string;
  startedAt: string;
  /** The first 18x relayed to the caller (absent from records written before the API had it). */
  ringingAt?: string | null;
  answeredAt: string | null;
  endedAt: string;
  durationSeconds: number;
  disposition: string;
  sipCode: number | null;
  hangupBy: string | null;
  reason: string | null;
  /** The call's recordings (GET …/recordings/{id}); empty when it was not recorded. */
  recordingIds?: string[];
}

export interface CdrStats {
  total: number;
  answered: number;
  /** Answer-seizure ratio, 0..1 (answered / attempts); null without attempts. */
  asr: number | null;
  /** Average duration of answered calls, seconds; null without any. */
  acd: number | null;
  perHour: { hour: string; calls: number; answered: number }[];
  /** Post-dial delay (start to first ringing), seconds, over the calls that rang; null without any. */
  pdd: { median: number; p90: number; calls: number } | null;
  /** The same per hour of start (UTC), for the hours with calls that rang. */
  pddPerHour: { hour: string; median: number; p90: number; calls: number }[];
  failures: { code: string; calls: number }[];
}

const HOUR_MS = 3_600_000;
/** Hours without calls are drawn as empty bars, up to a week of them; a longer span shows only busy hours. */
const MAX_FILLED_HOURS = 168;

function hourly(hours: Map<string, { calls: number; answered: number }>): CdrStats['perHour'] {
  const keys = [...hours.keys()].sort();
  const first = keys[0];
  const last = keys.at(-1);
  if (!first || !last) return [];
  const from = Date.parse(first);
  const to = Date.parse(last);
  if ((to - from) / HOUR_MS >= MAX_FILLED_HOURS) return keys.map((hour) => ({ hour, ...hours.get(hour)! }));
  const out: CdrStats['perHour'] = [];
  for (let t = from; t <= to; t += HOUR_MS) {
    const hour = `${new Date(t).toISOString().slice(0, 13)}:00Z`;
    out.push({ hour, ...(hours.get(hour) ?? { calls: 0, answered: 0 }) });
  }
  return out;
}

/** The `q` quantile (0..1) of sorted `values`, nearest rank (the value at or above that share of the calls). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function delays(values: number[]): { median: number; p90: number; calls: number } {
  values.sort((a, b) => a - b);
  return { median: quantile(values, 0.5), p90: quantile(values, 0.9), calls: values.length };
}

/** Seconds from the call's start to its first ringing; undefined when it never rang. */
function postDialDelay(c: Cdr): number | undefined {
  if (!c.ringingAt) return undefined;
  const s = (Date.parse(c.ringingAt) - Date.parse(c.startedAt)) / 1000;
  return Number.isFinite(s) && s >= 0 ? s : undefined;
}

export function cdrStats(cdrs: readonly Cdr[]): CdrStats {
  const answered = cdrs.filter((c) => c.disposition === 'answered');
  const hours = new Map<string, { calls: number; answered: number }>();
  for (const c of cdrs) {
    const hour = `${c.startedAt.slice(0, 13)}:00Z`;
    const h = hours.get(hour) ?? { calls: 0, answered: 0 };
    h.calls++;
    if (c.disposition === 'answered') h.answered++;
    hours.set(hour, h);
  }
  const pddAll: number[] = [];
  const pddHours = new Map<string, number[]>();
  for (const c of cdrs) {
    const pdd = postDialDelay(c);
    if (pdd === undefined) continue;
    pddAll.push(pdd);
    const hour = `${c.startedAt.slice(0, 13)}:00Z`;
    const list = pddHours.get(hour);
    if (list) list.push(pdd);
    else pddHours.set(hour, [pdd]);
  }
  const failures = new Map<string, number>();
  for (const c of cdrs) {
    if (c.disposition === 'answered') continue;
    const code = c.sipCode === null ? c.disposition : String(c.sipCode);
    failures.set(code, (failures.get(code) ?? 0) + 1);
  }
  return {
    total: cdrs.length,
    answered: answered.length,
    asr: cdrs.length ? answered.length / cdrs.length : null,
    acd: answered.length ? answered.reduce((s, c) => s + c.durationSeconds, 0) / answered.length : null,
    perHour: hourly(hours),
    pdd: pddAll.length ? delays(pddAll) : null,
    pddPerHour: [...pddHours.keys()].sort().map((hour) => ({ hour, ...delays(pddHours.get(hour)!) })),
    failures: [...failures.entries()].sort((a, b) => b[1] - a[1]).map(([code, calls]) => ({ code, calls })),
  };
}
