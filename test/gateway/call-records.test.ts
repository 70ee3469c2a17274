// Every call attempt whose caller is known (authenticated, or a recognised trunk) ends in exactly one record,
// answered or not, with its disposition, final code, reason and who ended it; and the logs say why.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { callEventChannel } from '../../src/gateway/index.js';
import { logCalls } from '../../src/platform/call-log.js';
import {
  CALL_EVENTS_STREAM,
  createCdrRepository,
  createTenantRepository,
  decodeCallEvent,
  type CallEvent,
} from '../../src/store/index.js';
import type { SipRequest } from '../../src/sip/index.js';
import { HARNESS_USERS, phoneBook, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { recordLogs } from '../helpers/log-recorder.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };

/** Every `ended` event on the stream so far (a fresh consumer group reads it from its start). */
async function endedEvents(gw: GatewayHarness): Promise<CallEvent[]> {
  const group = `records-${randomBytes(4).toString('hex')}`;
  const out: CallEvent[] = [];
  for (;;) {
    const batch = await gw.state.events.consume(CALL_EVENTS_STREAM, group, 'c', { count: 500, blockMs: 50 });
    if (batch.length === 0) return out;
    for (const e of batch) {
      const event = decodeCallEvent(e.fields);
      if (event.type === 'ended') out.push(event);
    }
  }
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 100 && !ok(value); i++) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  return value;
}

describe('one record per call attempt that passed authentication', () => {
  let gw: GatewayHarness;
  const phones = phoneBook(() => gw);
  const { sink, lines } = recordLogs();
  let callLog: ReturnType<typeof logCalls>;
  before(async () => {
    gw = await startGateway({ timers: FAST });
    callLog = logCalls(sink);
  });
  afterEach(() => phones.reset());
  after(async () => {
    callLog.stop();
    await gw?.close();
  });

  test('refused, rejected, answered and unauthenticated attempts: exactly one record each for the known callers', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const before = (await endedEvents(gw)).length;

    // 1. The callee is a user who is not registered: 480.
    const toCarol = await alice.invite('carol');
    assert.equal((await toCarol.final()).status, 480);
    // 2. A number no route of the tenant matches: 404.
    const toNumber = await alice.invite('+15550100');
    assert.equal((await toNumber.final()).status, 404);
    // 3. The callee rejects: 486.
    const busy = await alice.invite('bob');
    bob.reply((await bob.request('INVITE')) as SipRequest, 486, 'Busy Here', 'cr1');
    assert.equal((await busy.final()).status, 486);
    // 4. Answered, then hung up by the caller.
    const answered = await alice.invite('bob', sdp(40000));
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'cr2', {}, sdp(40100));
    assert.equal((await answered.final()).status, 200);
    answered.ack();
    answered.send('BYE');
    await bob.request('BYE');
    // 5. A caller with a wrong password never passes authentication: no record.
    const intruder = await SipPhone.open('alice', 'wrong password', gw.port);
    phones.track(intruder);
    const denied = await intruder.invite('bob').then(
      (call) => call.final(),
      () => undefined,
    );
    assert.notEqual(denied?.status, 200);

    const known = [toCarol.callId, toNumber.callId, busy.callId, answered.callId];
    const records = await eventually(
      async () => (await endedEvents(gw)).slice(before),
      (r) => r.length >= known.length,
    );
    assert.deepEqual(records.map((r) => r.callId).sort(), [...known].sort(), 'one record per known attempt');
    const byId = new Map(records.map((r) => [r.callId, r]));
    const summary = (id: string) => {
      const r = byId.get(id)!;
      return [r.disposition, r.sipCode, r.hangupBy, r.reason ?? null, r.refused ?? false];
    };
    assert.deepEqual(summary(toCarol.callId), ['no-answer', 480, 'system', 'not registered', true]);
    assert.deepEqual(summary(toNumber.callId), ['rejected', 404, 'system', 'not found', true]);
    assert.deepEqual(summary(busy.callId), ['busy', 486, 'callee', null, false]);
    assert.deepEqual(summary(answered.callId), ['answered', 200, 'caller', null, false]);
    assert.equal(byId.get(toNumber.callId)!.direction, 'outbound');
    assert.equal(byId.get(toNumber.callId)!.to, '+15550100');

    // The worker's CDR keeps the reason.
    const cdrs = createCdrRepository(gw.db);
    for (const r of records) assert.equal(await cdrs.upsertFromEvent(r), true);
    const cdr = await cdrs.get(gw.tenantId, toCarol.callId);
    assert.equal(cdr?.reason, 'not registered');
    assert.equal(cdr?.sipCode, 480);

    // The logs tell why, one line per attempt, and the failed authentication with its source.
    const refusedLine = lines.find((l) => l.message === 'call refused' && l.detail.callId === toCarol.callId);
    assert.equal(refusedLine?.level, 'info');
    assert.equal(refusedLine?.detail.code, 480);
    assert.equal(refusedLine?.detail.reason, 'not registered');
    assert.ok(
      lines.some((l) => l.message === 'call ended' && l.detail.callId === answered.callId),
      'an answered call logs "call ended"',
    );
    const authLine = lines.find((l) => l.message === 'SIP authentication failed');
    assert.equal(authLine?.level, 'warn');
    assert.equal(authLine?.detail.source, '127.0.0.1');
    assert.equal(authLine?.detail.username, 'alice');
  });

  test("a tenant's concurrent-call limit: the refused attempt is recorded as limited", async () => {
    const limited = await startGateway({ timers: FAST, tenantLimits: { maxConcurrentCalls: 0 } });
    const alice = await SipPhone.open('alice', HARNESS_USERS.alice, limited.port);
    const bob = await SipPhone.open('bob', HARNESS_USERS.bob, limited.port);
    try {
      await alice.register();
      await bob.register();
      const call = await alice.invite('bob');
      assert.equal((await call.final()).status, 503);
      const records = await eventually(
        () => endedEvents(limited),
        (r) => r.length > 0,
      );
      assert.equal(records.length, 1);
      assert.deepEqual(
        [records[0]!.callId, records[0]!.disposition, records[0]!.sipCode, records[0]!.reason],
        [call.callId, 'limited', 503, 'tenant concurrent call limit'],
      );
    } finally {
      alice.close();
      bob.close();
      await limited.close();
    }
  });

  test("a suspended tenant's user no longer authenticates: refused, logged, and no record", async () => {
    const alice = await phones.phone('alice');
    const tenants = createTenantRepository(gw.db);
    await tenants.update(gw.tenantId, { status: 'suspended' });
    try {
      const before = (await endedEvents(gw)).length;
      const failedBefore = lines.filter((l) => l.message === 'SIP authentication failed').length;
      const call = await alice.invite('bob');
      assert.equal((await call.final()).status, 407);
      assert.equal(
        (await endedEvents(gw)).length,
        before,
        'no record for a caller that did not authenticate',
      );
      assert.equal(lines.filter((l) => l.message === 'SIP authentication failed').length, failedBefore + 1);
    } finally {
      await tenants.update(gw.tenantId, { status: 'active' });
    }
  });
});

describe('call log lines are rate-limited', () => {
  test('a flood of refused calls writes at most the burst, then one line counting the rest', () => {
    const { sink, lines } = recordLogs();
    const logs = logCalls(sink, { burst: 5, perSecond: 0 });
    try {
      const event: CallEvent = {
        type: 'ended',
        callId: 'x',
        tenantId: 't',
        direction: 'internal',
        from: 'sip:a@x',
        to: 'sip:b@x',
        startedAt: 0,
        endedAt: 0,
        disposition: 'no-answer',
        sipCode: 480,
        hangupBy: 'system',
        reason: 'not registered',
        refused: true,
      };
      for (let i = 0; i < 100; i++) callEventChannel.publish({ ...event, callId: `flood-${i}` });
      assert.equal(lines.filter((l) => l.message === 'call refused').length, 5);
      logs.stop();
      const summary = lines.find((l) => l.message === 'log lines suppressed by rate limit');
      assert.equal(summary?.detail.suppressed, 95);
    } finally {
      logs.stop();
    }
  });
});
