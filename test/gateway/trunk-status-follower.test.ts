// A SIP worker that leaves the trunk checks to the first worker routes by that worker's reports in shared
// state: a trunk reported unreachable is skipped, one without a report (not checked yet, or its report
// lapsed) is routed to as a monitor that just started routes to it, and a failed read keeps the last view.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTrunkStatusFollower } from '../../src/gateway/trunk-status-follower.js';
import { createMemorySharedState, type TrunkStatusStore } from '../../src/store/shared-state/index.js';

const GATEWAY = '203.0.113.5:5060';

/** Memory shared state on a clock the test moves, and a follower of GATEWAY's reports on it. */
function setup(trunkIds: string[]) {
  let now = 1_000_000;
  const state = createMemorySharedState({ now: () => now });
  let failing = false;
  const trunkStatus: Pick<TrunkStatusStore, 'list'> = {
    list: (ids) =>
      failing ? Promise.reject(new Error('shared state unreachable')) : state.trunkStatus.list(ids),
  };
  const changes: [string, boolean][] = [];
  const follower = createTrunkStatusFollower({
    trunks: async () => trunkIds.map((id) => ({ id })),
    trunkStatus,
    gateway: () => GATEWAY,
    intervalMs: 3_600_000,
    onChange: (id, up) => changes.push([id, up]),
  });
  const report = (trunkId: string, reachable: boolean, gateway = GATEWAY) =>
    state.trunkStatus.report(trunkId, { gateway, reachable, checkedAt: now }, 60);
  return {
    follower,
    changes,
    report,
    trunkIds,
    advance: (ms: number) => (now += ms),
    fail: (on: boolean) => (failing = on),
    close: async () => {
      follower.stop();
      await state.close();
    },
  };
}

describe('trunk status follower', () => {
  test('a trunk the checking worker reports unreachable is down here, back up once reported reachable', async () => {
    const s = setup(['a', 'b']);
    try {
      await s.follower.refresh();
      assert.ok(s.follower.isUp('a') && s.follower.isUp('b'), 'unchecked trunks are routed to');
      await s.report('a', false);
      await s.report('b', true);
      await s.follower.refresh();
      assert.equal(s.follower.isUp('a'), false);
      assert.equal(s.follower.isUp('b'), true);
      assert.deepEqual([...s.follower.down], ['a']);
      await s.report('a', true);
      await s.follower.refresh();
      assert.equal(s.follower.isUp('a'), true);
      assert.deepEqual(s.changes, [
        ['a', false],
        ['a', true],
      ]);
    } finally {
      await s.close();
    }
  });

  test("another replica's report (another address) does not decide this gateway's routing", async () => {
    const s = setup(['a']);
    try {
      await s.report('a', false, '198.51.100.7:5060');
      await s.follower.refresh();
      assert.equal(s.follower.isUp('a'), true);
      await s.report('a', true, '198.51.100.7:5060');
      await s.report('a', false);
      await s.follower.refresh();
      assert.equal(s.follower.isUp('a'), false, 'one replica reaching it does not put it back here');
    } finally {
      await s.close();
    }
  });

  test('a failed read keeps the view; a lapsed report is unknown, routed to as before any check', async () => {
    const s = setup(['a']);
    try {
      await s.report('a', false);
      await s.follower.refresh();
      assert.equal(s.follower.isUp('a'), false);
      s.fail(true);
      await assert.rejects(s.follower.refresh());
      assert.equal(s.follower.isUp('a'), false, 'shared state unreachable: still down');
      s.fail(false);
      s.advance(30_000); // the checking worker restarting: its last report still lives
      await s.follower.refresh();
      assert.equal(s.follower.isUp('a'), false, 'still down while the last report lives');
      s.advance(31_000); // past the report's 60 s: no worker checks the trunk any more
      await s.follower.refresh();
      assert.equal(s.follower.isUp('a'), true, 'unknown: routed to');
    } finally {
      await s.close();
    }
  });

  test('a trunk deleted or disabled since leaves the down set', async () => {
    const s = setup(['a', 'b']);
    try {
      await s.report('a', false);
      await s.follower.refresh();
      assert.deepEqual([...s.follower.down], ['a']);
      s.trunkIds.splice(0, 1);
      await s.follower.refresh();
      assert.deepEqual([...s.follower.down], []);
    } finally {
      await s.close();
    }
  });
});
