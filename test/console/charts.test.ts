// The console's call-record figures (web/console/src/cdr-stats.ts), computed in the browser from the CDR list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cdrStats, quantile, type Cdr } from '../../web/console/src/cdr-stats.js';

const cdr = (startedAt: string, disposition: string, sipCode: number | null, durationSeconds = 0): Cdr => ({
  callId: `${startedAt}-${disposition}`,
  direction: 'internal',
  from: 'sip:alice@example',
  to: 'sip:bob@example',
  startedAt,
  answeredAt: disposition === 'answered' ? startedAt : null,
  endedAt: startedAt,
  durationSeconds,
  disposition,
  sipCode,
  hangupBy: null,
  reason: null,
});

test('ASR, ACD, calls per hour (empty hours filled) and failures by SIP code', () => {
  const stats = cdrStats([
    cdr('2026-12-03T09:05:00.000Z', 'answered', 200, 30),
    cdr('2026-12-03T09:40:00.000Z', 'answered', 200, 90),
    cdr('2026-12-03T09:50:00.000Z', 'busy', 486),
    cdr('2026-12-03T12:10:00.000Z', 'no-answer', 480),
    cdr('2026-12-03T12:20:00.000Z', 'failed', 480),
    cdr('2026-12-03T12:30:00.000Z', 'limited', null),
  ]);
  assert.equal(stats.total, 6);
  assert.equal(stats.answered, 2);
  assert.equal(stats.asr, 2 / 6);
  assert.equal(stats.acd, 60);
  assert.deepEqual(stats.perHour, [
    { hour: '2026-12-03T09:00Z', calls: 3, answered: 2 },
    { hour: '2026-12-03T10:00Z', calls: 0, answered: 0 },
    { hour: '2026-12-03T11:00Z', calls: 0, answered: 0 },
    { hour: '2026-12-03T12:00Z', calls: 3, answered: 0 },
  ]);
  assert.deepEqual(stats.failures, [
    { code: '480', calls: 2 },
    { code: '486', calls: 1 },
    { code: 'limited', calls: 1 },
  ]);
});

test('no calls: no ratio, no average, no bars', () => {
  assert.deepEqual(cdrStats([]), {
    total: 0,
    answered: 0,
    asr: null,
    acd: null,
    perHour: [],
    pdd: null,
    pddPerHour: [],
    failures: [],
  });
});

test('post-dial delay: median and p90 (nearest rank) over the calls that rang, per hour of start', () => {
  const rang = (startedAt: string, pddSeconds: number | null): Cdr => ({
    ...cdr(startedAt, 'answered', 200, 10),
    callId: `${startedAt}-${pddSeconds}`,
    ringingAt: pddSeconds === null ? null : new Date(Date.parse(startedAt) + pddSeconds * 1000).toISOString(),
  });
  const nine = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 3.5].map((s, i) =>
    rang(`2026-12-03T09:${String(10 + i).padStart(2, '0')}:00.000Z`, s),
  );
  const stats = cdrStats([
    ...nine,
    rang('2026-12-03T09:30:00.000Z', null),
    { ...cdr('2026-12-03T10:00:00.000Z', 'busy', 486) },
    rang('2026-12-03T11:05:00.000Z', 2),
    rang('2026-12-03T11:06:00.000Z', 4),
  ]);
  assert.deepEqual(stats.pddPerHour, [
    { hour: '2026-12-03T09:00Z', median: 0.5, p90: 3.5, calls: 9 },
    { hour: '2026-12-03T11:00Z', median: 2, p90: 4, calls: 2 },
  ]);
  assert.deepEqual(stats.pdd, { median: 0.6, p90: 3.5, calls: 11 });
  assert.equal(quantile([1], 0.9), 1);
  assert.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 9);
});

test('more than a week between the first and last call: only the busy hours', () => {
  const stats = cdrStats([
    cdr('2026-11-01T00:10:00.000Z', 'answered', 200, 1),
    cdr('2026-12-01T00:10:00.000Z', 'busy', 486),
  ]);
  assert.deepEqual(
    stats.perHour.map((h) => h.hour),
    ['2026-11-01T00:00Z', '2026-12-01T00:00Z'],
  );
});
