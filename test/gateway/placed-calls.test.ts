// Calls placed through the API (click-to-call) reach one gateway replica each, over memory and real Redis
// shared state: the replicas read `originate` commands in one consumer group they share, so of two replicas
// following the stream each command is carried out by exactly one; stale commands and other commands of the
// stream are skipped; a replica that stops leaves the group to the others.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { followPlacedCalls } from '../../src/gateway/index.js';
import {
  CALL_COMMANDS_STREAM,
  encodeCallCommand,
  encodeOriginateCommand,
  type OriginateCommand,
} from '../../src/store/index.js';
import { sharedStateKinds } from '../helpers/redis.js';
import { until } from '../helpers/rtp-party.js';

const kinds = await sharedStateKinds();

const originate = (n: number, at = Date.now()): OriginateCommand => ({
  type: 'originate',
  callId: `call-${n}`,
  tenantId: 't1',
  domain: 'acme.example',
  from: 'alice',
  to: 'bob',
  at,
});

for (const kind of kinds) {
  describe(`placed calls over ${kind.name} shared state`, { skip: kind.skip }, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c();
    });

    test('two replicas: each originate command is placed by exactly one; stale and other commands skipped; a stopped replica leaves the rest to the other', async () => {
      const { state, cleanup } = await kind.make();
      cleanups.push(cleanup);
      const placed = new Map<string, string[]>();
      const follow = (consumer: string) =>
        followPlacedCalls({
          events: state.events,
          b2bua: {
            place: async (command) => {
              placed.set(command.callId, [...(placed.get(command.callId) ?? []), consumer]);
            },
          },
          consumer,
          onError: (err) => assert.fail(String(err)),
          blockMs: 20,
        });
      const a = follow('gw-a');
      const b = follow('gw-b');
      cleanups.push(() => b.stop());
      await state.events.publish(
        CALL_COMMANDS_STREAM,
        encodeOriginateCommand(originate(0, Date.now() - 120_000)),
      );
      await state.events.publish(
        CALL_COMMANDS_STREAM,
        encodeCallCommand({
          type: 'hangup',
          callId: 'other',
          tenantId: 't1',
          gateway: 'gw-a',
          at: Date.now(),
        }),
      );
      for (let n = 1; n <= 20; n++)
        await state.events.publish(CALL_COMMANDS_STREAM, encodeOriginateCommand(originate(n)));
      await until(() => placed.size === 20, 5000);
      for (const [callId, by] of placed) assert.equal(by.length, 1, `${callId} placed by ${by.join(', ')}`);
      assert.equal(placed.has('call-0'), false, 'a stale command is not placed');
      assert.equal(placed.has('other'), false);

      // gw-a stops for good: the group stays, and gw-b takes what comes next.
      await a.stop();
      await state.events.publish(CALL_COMMANDS_STREAM, encodeOriginateCommand(originate(21)));
      await until(() => placed.has('call-21'), 5000);
      assert.deepEqual(placed.get('call-21'), ['gw-b']);
    });
  });
}
