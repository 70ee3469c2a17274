// Call-record figures for the console's charts, computed in the browser from the CDR list (GET …/calls):
// calls per hour, answer-seizure ratio, average call duration, failures by SIP code. No DOM, no Preact: the
// unit tests run it under Node.
export interface Cdr {
  callId: string;
  direction: string;
  from: string;
  to: string;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string;
  durationSeconds: number;
  disposition: string;
  sipCode: number | null;
  hangupBy: string | null;
  reason: string | null;
}

export interface CdrStats {
  total: number;
  answered: number;
  /** Answer-seizure ratio, 0..1 (answered / attempts); null without attempts. */
  asr: number | null;
  /** Average duration of answered calls, seconds; null without any. */
  acd: number | null;
  perHour: { hour: string; calls: number; answered: number }[];
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
    failures: [...failures.entries()].sort((a, b) => b[1] - a[1]).map(([code, calls]) => ({ code, calls })),
  };
}
