import { metricsIn, type Registry } from '../observability/index.js';
import {
  KNOWN_METHODS,
  type ConnectionClosedEvent,
  type ConnectionRefusedEvent,
  type SendFailure,
  type SipParseError,
} from '../sip/index.js';
import { subscribeChannels } from './channel-subscriptions.js';
import { pairCounter } from './pair-counter.js';

/** Unknown methods share one label value, so a stream of invented methods cannot grow the series count. */
function methodLabel(method: string): string {
  return (KNOWN_METHODS as readonly string[]).includes(method) ? method : 'other';
}

/**
 * SIP metrics from the stack's diagnostics channels: the stack knows nothing of Prometheus, and publishes only
 * while someone subscribes. Returns the function that unsubscribes.
 */
export function collectSipMetrics(
  registry: Registry,
  live?: {
    /** Transactions in the layer now. */
    transactions(): { server: number; client: number };
    /** Bindings this replica accepted and keeps alive (undefined when keepalive is off). */
    registrations(): number | undefined;
    /** Open TCP, TLS and WebSocket connections by transport (undefined before the listeners open). */
    connections?(): Readonly<Record<'tcp' | 'tls' | 'ws' | 'wss', number>> | undefined;
  },
): () => void {
  const metric = metricsIn(registry);
  const retransmissions = metric.counter(
    'voxgate_sip_retransmissions_total',
    'SIP retransmissions: requests and responses we sent again (request-sent, response-sent), retransmitted requests and final responses we received (request-absorbed, response-absorbed).',
    { labelNames: ['kind'] },
  );
  if (live) {
    metric.gauge(
      'voxgate_sip_transactions',
      'SIP transactions in progress (RFC 3261 §17), by kind (server, client).',
      {
        labelNames: ['kind'],
        collect(gauge) {
          const size = live.transactions();
          gauge.set({ kind: 'server' }, size.server);
          gauge.set({ kind: 'client' }, size.client);
        },
      },
    );
    metric.gauge(
      'voxgate_registrations',
      'Registered contacts (bindings) this gateway replica accepted and keeps alive.',
      {
        collect: (gauge) => gauge.set(live.registrations() ?? 0),
      },
    );
    const connections = live.connections;
    if (connections) {
      metric.gauge(
        'voxgate_sip_connections',
        'Open SIP stream connections (flows), accepted and opened, by transport (tcp, tls, ws, wss).',
        {
          labelNames: ['transport'],
          collect(gauge) {
            const open = connections();
            for (const transport of ['tcp', 'tls', 'ws', 'wss'] as const) {
              gauge.set({ transport }, open?.[transport] ?? 0);
            }
          },
        },
      );
    }
  }
  const refused = metric.counter(
    'voxgate_sip_connections_refused_total',
    'SIP stream connections closed at accept, by transport and limit (total: VOXGATE_SIP_STREAM_MAX_CONNECTIONS; per-source: VOXGATE_SIP_STREAM_MAX_PER_SOURCE).',
    { labelNames: ['transport', 'reason'] },
  );
  const closed = metric.counter(
    'voxgate_sip_connections_closed_total',
    'SIP stream connections this side closed for a limit, by transport and reason (idle: VOXGATE_SIP_STREAM_IDLE_SECONDS; message-timeout: a message, TLS handshake or WebSocket upgrade not complete within VOXGATE_SIP_STREAM_MESSAGE_TIMEOUT_SECONDS).',
    { labelNames: ['transport', 'reason'] },
  );
  // Counted per message: tallied in a plain map and handed to prom-client when scraped (pairCounter).
  const countRequest = pairCounter(
    metric,
    'voxgate_sip_requests_received_total',
    'SIP requests received that parsed, by method and transport.',
    ['method', 'transport'],
  );
  const countResponse = pairCounter(
    metric,
    'voxgate_sip_responses_sent_total',
    'SIP responses sent, by request method and status code.',
    ['method', 'code'],
  );
  const parseErrors = metric.counter(
    'voxgate_sip_parse_errors_total',
    'SIP messages that did not parse, by error code (answered 4xx/5xx or dropped).',
    { labelNames: ['code'] },
  );
  const transportErrors = metric.counter(
    'voxgate_sip_transport_errors_total',
    'SIP messages the transport could not send, by transport and reason (bad-port, unspecified-address, broadcast, multicast, scoped-address, unresolved-host, address-family, no-transport, flow-closed, connect-failed, socket-error).',
    { labelNames: ['transport', 'reason'] },
  );
  return subscribeChannels({
    'voxgate:sip:retransmission': (m) => retransmissions.inc({ kind: (m as { kind: string }).kind }),
    'voxgate:sip:request-in': (m) => {
      const { method, transport } = m as { method: string; transport: string };
      countRequest(methodLabel(method), transport);
    },
    'voxgate:sip:response-out': (m) => {
      const { method, status } = m as { method: string; status: number };
      countResponse(methodLabel(method), String(status));
    },
    'voxgate:sip:parse-error': (m) => parseErrors.inc({ code: (m as { error: SipParseError }).error.code }),
    'voxgate:sip:transport-error': (m) => {
      const { transport, reason } = m as SendFailure;
      transportErrors.inc({ transport, reason });
    },
    'voxgate:sip:connection-refused': (m) => {
      const { transport, reason } = m as ConnectionRefusedEvent;
      refused.inc({ transport, reason });
    },
    'voxgate:sip:connection-closed': (m) => {
      const { transport, reason } = m as ConnectionClosedEvent;
      closed.inc({ transport, reason });
    },
  });
}
