import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, type Registry } from '../observability/index.js';
import { KNOWN_METHODS, type SipParseError } from '../sip/index.js';

/** Unknown methods share one label value, so a stream of invented methods cannot grow the series count. */
function methodLabel(method: string): string {
  return (KNOWN_METHODS as readonly string[]).includes(method) ? method : 'other';
}

/**
 * SIP metrics from the stack's diagnostics channels: the stack knows nothing of Prometheus, and publishes only
 * while someone subscribes. Returns the function that unsubscribes.
 */
export function collectSipMetrics(registry: Registry): () => void {
  const requests = new Counter({
    name: 'voxgate_sip_requests_received_total',
    help: 'SIP requests received that parsed, by method and transport.',
    labelNames: ['method', 'transport'],
    registers: [registry],
  });
  const responses = new Counter({
    name: 'voxgate_sip_responses_sent_total',
    help: 'SIP responses sent, by request method and status code.',
    labelNames: ['method', 'code'],
    registers: [registry],
  });
  const parseErrors = new Counter({
    name: 'voxgate_sip_parse_errors_total',
    help: 'SIP messages that did not parse, by error code (answered 4xx/5xx or dropped).',
    labelNames: ['code'],
    registers: [registry],
  });
  const onRequest = (m: unknown) => {
    const { method, transport } = m as { method: string; transport: string };
    requests.inc({ method: methodLabel(method), transport });
  };
  const onResponse = (m: unknown) => {
    const { method, status } = m as { method: string; status: number };
    responses.inc({ method: methodLabel(method), code: String(status) });
  };
  const onParseError = (m: unknown) => parseErrors.inc({ code: (m as { error: SipParseError }).error.code });
  subscribe('voxgate:sip:request-in', onRequest);
  subscribe('voxgate:sip:response-out', onResponse);
  subscribe('voxgate:sip:parse-error', onParseError);
  return () => {
    unsubscribe('voxgate:sip:request-in', onRequest);
    unsubscribe('voxgate:sip:response-out', onResponse);
    unsubscribe('voxgate:sip:parse-error', onParseError);
  };
}
