// The call command stream between the API and the gateway replicas, over memory and real Redis shared state:
// a command ends the call only on the replica it is addressed to (the live call's gateway), stale and unknown
// entries are skipped and acknowledged, and a replica stopping drops its consumer group.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENDED_THROUGH_API, followCallCommands } from '../../src/gateway/index.js';
import { CALL_COMMANDS_STREAM, encodeCallCommand, type HangupParty } from '../../src/store/index.js';
import type { SharedState } from '../../src/store/shared-state/index.js';
import { startApiApp } from '../helpers/api-app.js';
import { sharedStateKinds } from '../helpers/redis.js';
import { storeBackends } from '../helpers/store-backends.js';

const kinds = await sharedStateKinds();
const pglite = (await storeBackends()).find((b) => b.name === 'PGlite (memory://)')!;

/** A replica's B2BUA as the follower sees it: the calls it holds, and what it was asked to end. */
function replica(holds: string[]) {
  const ended: { callId: string; by: HangupParty; reason: string }[] = [];
  return {
    ended,
    b2bua: {
      end(callId: string, by: HangupParty, reason: string) {
        if (!holds.includes(callId)) return false;
        ended.push({ callId, by, reason });
        return true;
      },
      async transfer(callId: string) {
        return holds.includes(callId) ? undefined : { status: 404, warning: `No call ${callId} here` };
      },
      async record(callId: string) {
        return holds.includes(callId) ? undefined : { status: 404, warning: `No call ${callId} here` };
      },
    },
  };
}

async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`no ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const kind of kinds) {
  describe(`call commands over ${kind.name} shared state`, { skip: kind.skip }, () => {
    let state: SharedState;
    let cleanup: () => Promise<void>;
    before(async () => ({ state, cleanup } = await kind.make()));
    after(() => cleanup?.());

    test('the API addresses the replica holding the call; only that one ends it; others and stale commands are left', async () => {
      const opened = await pglite.open();
      const api = await startApiApp(opened.db, { state });
      const a = replica(['call-a']);
      const b = replica(['call-b']);
      const told: string[] = [];
      const follow = (id: string, r: ReturnType<typeof replica>) =>
        followCallCommands({
          events: state.events,
          b2bua: r.b2bua,
          gatewayId: id,
          group: `gateway-calls:${id}`,
          onCommand: (c, done) => told.push(`${id}:${c.callId}:${done}`),
          onError: (err) => assert.fail(String(err)),
          blockMs: 50,
        });
      const followers = [follow('gw-a', a), follow('gw-b', b)];
      try {
        const tenant = await api.tenant('Acme');
        const operator = await api.key(tenant, 'operator');
        await state.calls.put({
          callId: 'call-b',
          tenantId: tenant,
          from: 'sip:alice@acme.example',
          to: 'sip:bob@acme.example',
          state: 'answered',
          startedAt: Date.now(),
          answeredAt: Date.now(),
          gateway: 'gw-b',
        });
        // Skipped: older than a minute, not a command this version knows, for a replica that is not here.
        await state.events.publish(
          CALL_COMMANDS_STREAM,
          encodeCallCommand({
            type: 'hangup',
            callId: 'call-a',
            tenantId: tenant,
            gateway: 'gw-a',
            at: Date.now() - 120_000,
          }),
        );
        await state.events.publish(CALL_COMMANDS_STREAM, {
          type: 'frobnicate',
          callId: 'call-a',
          gateway: 'gw-a',
        });
        await state.events.publish(
          CALL_COMMANDS_STREAM,
          encodeCallCommand({
            type: 'hangup',
            callId: 'call-a',
            tenantId: tenant,
            gateway: 'gw-gone',
            at: Date.now(),
          }),
        );
        const res = await api.call(operator, 'DELETE', `/v1/tenants/${tenant}/calls/live/call-b`);
        assert.equal(res.statusCode, 202, res.body);
        await until(() => b.ended.length === 1, 'call-b ended');
        assert.deepEqual(b.ended, [{ callId: 'call-b', by: 'api', reason: ENDED_THROUGH_API }]);
        // Both followers have read everything: gw-a has acknowledged all four entries and ended nothing.
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(a.ended, []);
        assert.deepEqual(told, ['gw-b:call-b:true']);
        for (const id of ['gw-a', 'gw-b'])
          assert.deepEqual(
            await state.events.claimStale(CALL_COMMANDS_STREAM, `gateway-calls:${id}`, 'x', 0),
            [],
            `${id} acknowledged every entry`,
          );
      } finally {
        for (const f of followers) await f.stop();
        await api.app.close();
        await opened.db.close();
        await opened.cleanup();
      }
      assert.equal(
        await state.events.dropGroup(CALL_COMMANDS_STREAM, 'gateway-calls:gw-a'),
        false,
        'stop() dropped the group',
      );
    });
  });
}
