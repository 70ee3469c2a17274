import { registrationChannel, type RegistrationEvent } from '../gateway/registrar.js';
import {
  encodeRegistrationChange,
  REGISTRATION_EVENTS_STREAM,
  type RegistrationChange,
} from '../store/index.js';
import type { EventStreams } from '../store/shared-state/index.js';
import { subscribeChannels } from './channel-subscriptions.js';

/**
 * Puts the gateway's registration changes (`voxgate:gateway:registration`: a contact registered, removed or
 * expired — not refreshed) onto the shared `REGISTRATION_EVENTS_STREAM`, where the worker turns them into
 * `registration.changed` webhooks. A change without a tenant (none is published today) is left out. A publish
 * that fails is reported to `onFailed` (the change is lost for webhooks; the registration itself is not).
 * Returns the function that unsubscribes.
 */
export function publishRegistrationChanges(
  events: Pick<EventStreams, 'publish'>,
  onFailed: (err: unknown, change: RegistrationChange) => void,
): () => void {
  const onEvent = (message: unknown) => {
    const e = message as RegistrationEvent;
    if (e.kind === 'refreshed' || !e.tenantId) return;
    const change: RegistrationChange = {
      kind: e.kind,
      tenantId: e.tenantId,
      aor: e.aor,
      contact: e.contact,
      at: Date.now(),
      ...(e.source ? { source: e.source } : {}),
      ...(e.transport ? { transport: e.transport } : {}),
      ...(e.userAgent ? { userAgent: e.userAgent } : {}),
      ...(e.expiresInSeconds === undefined ? {} : { expiresInSeconds: e.expiresInSeconds }),
      ...(e.reason ? { reason: e.reason } : {}),
    };
    events
      .publish(REGISTRATION_EVENTS_STREAM, encodeRegistrationChange(change))
      .catch((err: unknown) => onFailed(err, change));
  };
  return subscribeChannels({ [registrationChannel.name as string]: onEvent });
}
