// The gateway's follower of provisioning announcements: one onChange per batch, entries acknowledged, and its
// consumer group deleted when the replica stops (a replica gone for good leaves no group behind in Redis).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { followProvisioningChanges } from '../../src/gateway/index.js';
import { PROVISIONING_CHANGES_STREAM } from '../../src/store/index.js';
import { createMemorySharedState } from '../../src/store/shared-state/index.js';

test('announcements invalidate once per batch; stop drops the replica group', async () => {
  const state = createMemorySharedState();
  let changes = 0;
  const errors: unknown[] = [];
  const follower = followProvisioningChanges({
    events: state.events,
    group: 'gateway:test-1',
    onChange: () => (changes += 1),
    onError: (err) => errors.push(err),
    blockMs: 50,
  });
  try {
    await state.events.publish(PROVISIONING_CHANGES_STREAM, { entity: 'user', id: 'u1' });
    const deadline = Date.now() + 2000;
    while (changes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(changes, 1);
    assert.deepEqual(
      await state.events.claimStale(PROVISIONING_CHANGES_STREAM, 'gateway:test-1', 'x', 0),
      [],
      'the announcement was acknowledged',
    );
  } finally {
    await follower.stop();
  }
  assert.deepEqual(errors, []);
  assert.equal(
    await state.events.dropGroup(PROVISIONING_CHANGES_STREAM, 'gateway:test-1'),
    false,
    'the group was already dropped by stop()',
  );
  await state.close();
});
