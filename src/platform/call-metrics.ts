import { metricsIn, type Registry } from '../observability/index.js';
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
import { subscribeChannels } from './channel-subscriptions.js';
import { pairCounter } from './pair-counter.js';

/**
 * Call metrics from the gateway's diagnostics channels: calls active and ended by disposition, post-dial
 * delay and answer time, refusals by reason, authentication outcomes. Returns the function that unsubscribes.
 */
export function collectCallMetrics(registry: Registry): () => void {
  const metric = metricsIn(registry);
  const active = metric.gauge(
    'voxgate_calls_active',
    'Calls in progress on this gateway (set up, ringing or answered).',
  );
  const ended = metric.counter(
    'voxgate_calls_total',
    'Call attempts ended, by disposition (answered, busy, no-answer, cancelled, rejected, failed, limited), including those refused before ringing once the caller was known (one per CDR).',
    { labelNames: ['disposition'] },
  );
  const pdd = metric.histogram(
    'voxgate_call_post_dial_delay_seconds',
    "Post-dial delay: from the caller's INVITE to the first ringing (18x) relayed back.",
    [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10],
  );
  const answer = metric.histogram(
    'voxgate_call_answer_seconds',
    "From the caller's INVITE to the answer (2xx) of an answered call.",
    [0.1, 0.5, 1, 2, 5, 10, 20, 30, 60],
  );
  const refused = metric.counter(
    'voxgate_calls_refused_total',
    'Calls refused before ringing anywhere, by reason.',
    {
      labelNames: ['reason', 'code'],
    },
  );
  // Counted as decisions are made (one or two per REGISTER), added to the counter at each scrape.
  const countAuth = pairCounter(
    metric,
    'voxgate_sip_auth_total',
    'SIP digest authentication decisions, by kind (registrar, proxy) and outcome.',
    ['as', 'outcome'],
  );
  const trunkRegistrations = metric.counter(
    'voxgate_trunk_registrations_total',
    'REGISTER outcomes towards carriers (trunks with register set), by state (registered, failed, unregistered).',
    { labelNames: ['state'] },
  );
  return subscribeChannels({
    [callEventChannel.name as string]: (m) => {
      const event = m as CallEvent;
      if (event.type === 'started') active.inc();
      else if (event.type === 'answered' && event.answeredAt) {
        answer.observe((event.answeredAt - event.startedAt) / 1000);
      } else if (event.type === 'ended') {
        if (!event.refused) active.dec(); // a refused attempt never was active
        ended.inc({ disposition: event.disposition ?? 'failed' });
      }
    },
    [callProgressChannel.name as string]: (m) => pdd.observe((m as CallProgressEvent).postDialDelayMs / 1000),
    [callRefusedChannel.name as string]: (m) => {
      const { reason, status } = m as CallRefusedEvent;
      refused.inc({ reason, code: String(status) });
    },
    [sipAuthChannel.name as string]: (m) => {
      const { as, outcome } = m as SipAuthEvent;
      countAuth(as, outcome);
    },
    [trunkRegistrationChannel.name as string]: (m) =>
      trunkRegistrations.inc({ state: (m as TrunkRegistrationEvent).state }),
  });
}
