import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, type Registry } from '../observability/index.js';
import { KNOWN_METHODS, type SendFailure, type SipParseError } from '../sip/index.js';

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
  },
): () => void {
  const retransmissions = new Counter({
    name: 'voxgate_sip_retransmissions_total',
    help: 'SIP retransmissions: requests and responses we sent again (request-sent, response-sent), retransmitted requests we received (request-absorbed).',
    labelNames: ['kind'],
    registers: [registry],
  });
  if (live) {
    new Gauge({
      name: 'voxgate_sip_transactions',
      help: 'SIP transactions in progress (RFC 3261 §17), by kind (server, client).',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        const size = live.transactions();
        this.set({ kind: 'server' }, size.server);
        this.set({ kind: 'client' }, size.client);
      },
    });
    new Gauge({
      name: 'voxgate_registrations',
      help: 'Registered contacts (bindings) this gateway replica accepted and keeps alive.',
      registers: [registry],
      collect() {
        this.set(live.registrations() ?? 0);
      },
    });
  }
  // Counted per message: tallied in a plain map and handed to prom-client when scraped (pairCounter).
  const countRequest = pairCounter(registry, {
    name: 'voxgate_sip_requests_received_total',
    help: 'SIP requests received that parsed, by method and transport.',
    labelNames: ['method', 'transport'],
  });
  const countResponse = pairCounter(registry, {
    name: 'voxgate_sip_responses_sent_total',
    help: 'SIP responses sent, by request method and status code.',
    labelNames: ['method', 'code'],
  });
  const parseErrors = new Counter({
    name: 'voxgate_sip_parse_errors_total',
    help: 'SIP messages that did not parse, by error code (answered 4xx/5xx or dropped).',
    labelNames: ['code'],
    registers: [registry],
  });
  const transportErrors = new Counter({
    name: 'voxgate_sip_transport_errors_total',
    help: 'SIP messages the transport could not send, by transport and reason (bad-port, unspecified-address, broadcast, multicast, scoped-address, unresolved-host, address-family, no-transport, flow-closed, connect-failed, socket-error).',
    labelNames: ['transport', 'reason'],
    registers: [registry],
  });
  const onTransportError = (m: unknown) => {
    const { transport, reason } = m as SendFailure;
    transportErrors.inc({ transport, reason });
  };
  const onRequest = (m: unknown) => {
    const { method, transport } = m as { method: string; transport: string };
    countRequest(methodLabel(method), transport);
  };
  const onResponse = (m: unknown) => {
    const { method, status } = m as { method: string; status: number };
    countResponse(methodLabel(method), String(status));
  };
  const onParseError = (m: unknown) => parseErrors.inc({ code: (m as { error: SipParseError }).error.code });
  const onRetransmission = (m: unknown) => retransmissions.inc({ kind: (m as { kind: string }).kind });
  subscribe('voxgate:sip:retransmission', onRetransmission);
  subscribe('voxgate:sip:request-in', onRequest);
  subscribe('voxgate:sip:response-out', onResponse);
  subscribe('voxgate:sip:parse-error', onParseError);
  subscribe('voxgate:sip:transport-error', onTransportError);
  return () => {
    unsubscribe('voxgate:sip:transport-error', onTransportError);
    unsubscribe('voxgate:sip:request-in', onRequest);
    unsubscribe('voxgate:sip:response-out', onResponse);
    unsubscribe('voxgate:sip:parse-error', onParseError);
    unsubscribe('voxgate:sip:retransmission', onRetransmission);
  };
}

/**
 * A counter with two labels incremented on the hot path (every SIP message): increments are tallied in a map
 * keyed by the label values and added to the prom-client counter at scrape time, which costs one map lookup
 * per message instead of prom-client's label hashing. Scrapes see every increment made before them.
 */
function pairCounter<A extends string, B extends string>(
  registry: Registry,
  config: { name: string; help: string; labelNames: [A, B] },
): (a: string, b: string) => void {
  const [nameA, nameB] = config.labelNames;
  const tallies = new Map<string, { a: string; b: string; n: number }>();
  new Counter({
    ...config,
    registers: [registry],
    collect() {
      for (const t of tallies.values()) {
        if (t.n === 0) continue;
        this.inc({ [nameA]: t.a, [nameB]: t.b } as Record<A | B, string>, t.n);
        t.n = 0;
      }
    },
  });
  return (a, b) => {
    const key = `${a}\u0000${b}`;
    const tally = tallies.get(key);
    if (tally) tally.n += 1;
    else tallies.set(key, { a, b, n: 1 });
  };
}
