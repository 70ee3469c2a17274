import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { registrationChannel, type RegistrationEvent } from '../../src/gateway/registrar.js';
import { createRateLimitedLog } from '../../src/observability/rate-limited-log.js';
import { logRegistrations } from '../../src/platform/registration-log.js';
import { recordLogs } from '../helpers/log-recorder.js';

describe('rate-limited log (token bucket per kind)', () => {
  test('a burst passes, the rest is counted, and the count is logged once the bucket refills', () => {
    let now = 0;
    const { sink, lines } = recordLogs();
    const log = createRateLimitedLog(sink, { burst: 3, perSecond: 1, now: () => now });
    for (let i = 0; i < 10; i++) log.log('register', 'info', { i }, 'registered');
    assert.equal(lines.length, 3);
    assert.deepEqual(log.pending(), new Map([['register', 7]]));
    now += 500;
    assert.equal(log.log('register', 'info', { i: 10 }, 'registered'), false, 'half a token is not one');
    now += 500;
    assert.equal(log.log('register', 'info', { i: 11 }, 'registered'), true);
    assert.deepEqual(
      lines.slice(3).map((l) => [l.level, l.message, l.detail.suppressed ?? l.detail.i]),
      [
        ['warn', 'log lines suppressed by rate limit', 8],
        ['info', 'registered', 11],
      ],
    );
    assert.equal(lines[3]?.detail.kind, 'register');
    assert.deepEqual(log.pending(), new Map());
  });

  test('under a sustained flood the suppressed lines are reported once per interval, not before every line let through; a detail made by a function is made only for a line written', () => {
    let now = 0;
    const { sink, lines } = recordLogs();
    const log = createRateLimitedLog(sink, {
      burst: 1,
      perSecond: 10,
      reportIntervalMs: 1_000,
      now: () => now,
    });
    let made = 0;
    const detail = () => ({ n: ++made });
    // 20 lines a second for 2.5 s: 10 a second pass.
    for (let ms = 0; ms < 2_500; ms += 50) {
      now = ms;
      log.log('call', 'info', detail, 'call');
    }
    const written = lines.filter((l) => l.message === 'call');
    const reports = lines.filter((l) => l.message === 'log lines suppressed by rate limit');
    assert.equal(written.length, 25);
    assert.equal(made, written.length, 'no detail made for a suppressed line');
    assert.deepEqual(
      reports.map((l) => l.detail.since),
      ['1970-01-01T00:00:00.050Z', '1970-01-01T00:00:00.150Z', '1970-01-01T00:00:01.150Z'],
      'the first report as soon as a line passes again, then one per second',
    );
    log.flush();
    const counted = lines
      .filter((l) => l.message === 'log lines suppressed by rate limit')
      .reduce((sum, l) => sum + Number(l.detail.suppressed), 0);
    assert.equal(counted + written.length, 50, 'every line written or counted');
  });

  test('kinds have their own buckets; a disabled level takes no token; flush reports what is left', () => {
    let now = 0;
    const { sink, lines } = recordLogs();
    const log = createRateLimitedLog(sink, { burst: 1, perSecond: 1, now: () => now });
    log.log('a', 'info', {}, 'a1');
    log.log('a', 'info', {}, 'a2');
    log.log('b', 'info', {}, 'b1');
    assert.equal(log.log('c', 'debug', {}, 'c1'), false);
    assert.equal(log.log('c', 'info', {}, 'c2'), true, 'the debug line took no token');
    assert.deepEqual(
      lines.map((l) => l.message),
      ['a1', 'b1', 'c2'],
    );
    log.flush();
    assert.equal(lines.at(-1)?.detail.kind, 'a');
    assert.equal(lines.at(-1)?.detail.suppressed, 1);
    now += 10_000;
    log.flush();
    assert.equal(lines.length, 4, 'nothing more to report');
  });

  test('bounded: at most maxKinds buckets, the forgotten one reports its count', () => {
    const { sink, lines } = recordLogs();
    const log = createRateLimitedLog(sink, { burst: 1, perSecond: 0, maxKinds: 2, now: () => 0 });
    log.log('a', 'info', {}, 'a1');
    log.log('a', 'info', {}, 'a2');
    log.log('b', 'info', {}, 'b1');
    log.log('c', 'info', {}, 'c1');
    assert.deepEqual(
      lines.map((l) => l.detail.kind ?? l.message),
      ['a1', 'b1', 'a', 'c1'],
    );
    assert.equal(log.pending().size, 0);
  });
});

describe('registration log lines', () => {
  test('added/removed/expired at info, refreshed at debug, a flood limited per kind', () => {
    const { sink, lines } = recordLogs(['fatal', 'error', 'warn', 'info', 'debug']);
    const { stop } = logRegistrations(sink, { burst: 2, perSecond: 0 });
    const event = (kind: RegistrationEvent['kind'], n: number): RegistrationEvent => ({
      kind,
      aor: `sip:u${n}@acme.example`,
      contact: `sip:u${n}@192.0.2.1:5060`,
      source: '192.0.2.1:5060',
      transport: 'udp',
      userAgent: 'Phone/1.0',
    });
    try {
      for (let i = 0; i < 50; i++) registrationChannel.publish(event('registered', i));
      registrationChannel.publish(event('refreshed', 1));
      registrationChannel.publish(event('unregistered', 1));
      registrationChannel.publish(event('expired', 2));
    } finally {
      stop();
    }
    assert.deepEqual(
      lines.map((l) => [l.level, l.message]),
      [
        ['info', 'registration added'],
        ['info', 'registration added'],
        ['debug', 'registration refreshed'],
        ['info', 'registration removed'],
        ['info', 'registration expired'],
        ['warn', 'log lines suppressed by rate limit'],
      ],
    );
    assert.deepEqual(lines[0]?.detail, {
      user: 'sip:u0@acme.example',
      contact: 'sip:u0@192.0.2.1:5060',
      source: '192.0.2.1:5060',
      transport: 'udp',
      userAgent: 'Phone/1.0',
    });
    assert.equal(lines.at(-1)?.detail.kind, 'registration:registered');
    assert.equal(lines.at(-1)?.detail.suppressed, 48);
  });
});
