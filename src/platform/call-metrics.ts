import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, type Registry } from '../observability/index.js';
import {
  callEventChannel,
  callProgressChannel,
  callRefusedChannel,
  sipAuthChannel,
  trunkRegistrationChannel,
  type TrunkRegistrationEvent,
  type CallProgressEvent,
  type CallRefusedEvent,
  type SipAuthEvent,
} from '../gateway/index.js';
import type { CallEvent } from '../store/index.js';

/**
 * Call metrics from the gateway's diagnostics channels: calls active and ended by disposition, post-dial
 * delay and answer time, refusals by reason, authentication outcomes. Returns the function that unsubscribes.
 */
export function collectCallMetrics(registry: Registry): () => void {
  const active = new Gauge({
    name: 'voxgate_calls_active',
    help: 'Calls in progress on this gateway (set up, ringing or answered).',
    registers: [registry],
  });
  const ended = new Counter({
    name: 'voxgate_calls_total',
    help: 'Call attempts ended, by disposition (answered, busy, no-answer, cancelled, rejected, failed, limited), including those refused before ringing once the caller was known (one per CDR).',
    labelNames: ['disposition'],
    registers: [registry],
  });
  const pdd = new Histogram({
    name: 'voxgate_call_post_dial_delay_seconds',
    help: "Post-dial delay: from the caller's INVITE to the first ringing (18x) relayed back.",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10],
    registers: [registry],
  });
  const answer = new Histogram({
    name: 'voxgate_call_answer_seconds',
    help: "From the caller's INVITE to the answer (2xx) of an answered call.",
    buckets: [0.1, 0.5, 1, 2, 5, 10, 20, 30, 60],
    registers: [registry],
  });
  const refused = new Counter({
    name: 'voxgate_calls_refused_total',
    help: 'Calls refused before ringing anywhere, by reason.',
    labelNames: ['reason', 'code'],
    registers: [registry],
  });
  const auth = new Counter({
    name: 'voxgate_sip_auth_total',
    help: 'SIP digest authentication decisions, by kind (registrar, proxy) and outcome.',
    labelNames: ['as', 'outcome'],
    registers: [registry],
  });
  const trunkRegistrations = new Counter({
    name: 'voxgate_trunk_registrations_total',
    help: 'REGISTER outcomes towards carriers (trunks with register set), by state (registered, failed, unregistered).',
    labelNames: ['state'],
    registers: [registry],
  });
  const onCall = (m: unknown) => {
    const event = m as CallEvent;
    if (event.type === 'started') active.inc();
    else if (event.type === 'answered' && event.answeredAt) {
      answer.observe((event.answeredAt - event.startedAt) / 1000);
    } else if (event.type === 'ended') {
      if (!event.refused) active.dec(); // a refused attempt never was active
      ended.inc({ disposition: event.disposition ?? 'failed' });
    }
  };
  const onProgress = (m: unknown) => pdd.observe((m as CallProgressEvent).postDialDelayMs / 1000);
  const onRefused = (m: unknown) => {
    const { reason, status } = m as CallRefusedEvent;
    refused.inc({ reason, code: String(status) });
  };
  const onAuth = (m: unknown) => {
    const { as, outcome } = m as SipAuthEvent;
    auth.inc({ as, outcome });
  };
  const onTrunkRegistration = (m: unknown) =>
    trunkRegistrations.inc({ state: (m as TrunkRegistrationEvent).state });
  const channels: [string, (m: unknown) => void][] = [
    [callEventChannel.name as string, onCall],
    [callProgressChannel.name as string, onProgress],
    [callRefusedChannel.name as string, onRefused],
    [sipAuthChannel.name as string, onAuth],
    [trunkRegistrationChannel.name as string, onTrunkRegistration],
  ];
  for (const [name, fn] of channels) subscribe(name, fn);
  return () => {
    for (const [name, fn] of channels) unsubscribe(name, fn);
  };
}
