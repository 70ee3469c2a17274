import { test } from 'node:test';
import assert from 'node:assert/strict';
import { publishRegistration } from '../../src/gateway/registrar.js';
import { publishRegistrationChanges } from '../../src/platform/registration-events.js';
import {
  decodeRegistrationChange,
  REGISTRATION_EVENTS_STREAM,
  webhookEventOfRegistration,
} from '../../src/store/index.js';
import { createMemorySharedState } from '../../src/store/shared-state/index.js';

test('registration changes reach the registration stream for webhooks; refreshes do not', async () => {
  const state = createMemorySharedState();
  const failed: unknown[] = [];
  const stop = publishRegistrationChanges(state.events, (err) => failed.push(err));
  try {
    const about = {
      aor: 'sip:alice@acme.example',
      contact: 'sip:alice@192.0.2.5:5060',
      tenantId: 'tenant-1',
      source: '192.0.2.5:5060',
      transport: 'udp' as const,
      userAgent: 'phone/1.0',
    };
    publishRegistration({ kind: 'registered', ...about, expiresInSeconds: 3600 });
    publishRegistration({ kind: 'refreshed', ...about, expiresInSeconds: 3600 });
    publishRegistration({ kind: 'unregistered', ...about, reason: 'expires 0' });
    publishRegistration({ kind: 'expired', aor: about.aor, contact: about.contact }); // no tenant: left out
    await new Promise((r) => setImmediate(r));
    const entries = await state.events.consume(REGISTRATION_EVENTS_STREAM, 'g', 'c', { count: 10 });
    const changes = entries.map((e) => decodeRegistrationChange(e.fields));
    assert.deepEqual(
      changes.map((c) => c.kind),
      ['registered', 'unregistered'],
    );
    assert.equal(changes[0]!.expiresInSeconds, 3600);
    assert.equal(changes[0]!.userAgent, 'phone/1.0');
    assert.equal(changes[1]!.reason, 'expires 0');
    const event = webhookEventOfRegistration(changes[0]!);
    assert.equal(event.type, 'registration.changed');
    assert.equal(event.tenantId, 'tenant-1');
    assert.equal(event.data.aor, about.aor);
    assert.deepEqual(failed, []);
  } finally {
    stop();
    await state.close();
  }
});
