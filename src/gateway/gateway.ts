import { networkInterfaces } from 'node:os';
import {
  createSipEndpoint,
  createTransactionLayer,
  formatHostPort,
  type KeyRing,
  type SipEndpoint,
  type SipEndpointOptions,
  type UdpBatchSockets,
  type StreamLimits,
  type TimerSettings,
  type TransactionLayer,
  type TransactionUser,
  type TransportName,
  type WebSocketTransportName,
} from '../sip/index.js';
import type { SipUserRepository, TenantRepository } from '../store/index.js';
import type { SharedState } from '../store/shared-state/index.js';
import { createB2bua, type B2bua, type RecordingSink } from './b2bua.js';
import { createBindingKeepalive, keepaliveKey, type BindingKeepalive } from './binding-keepalive.js';
import type { CallSettings } from './b2bua-call.js';
import type { RoutingDirectory } from './call-routing.js';
import type { MediaAnchor } from './media-anchor.js';
import { createRegistrar, type RegistrarPolicy } from './registrar.js';
import { createRequestRouter } from './request-router.js';
import { createSipAuthenticator } from './sip-authenticator.js';
import { createSipOutbound } from './sip-outbound.js';
import { answeredStatelessly, statelessReply } from './stateless-reply.js';
import { createTrunkMonitor, type TrunkMonitor } from './trunk-monitor.js';
import { createTrunkLocator, type TrunkLocator } from './trunk-locator.js';
import { createTrunkRegistrar, type TrunkRegistrar } from './trunk-registration.js';
import { createTrunkStatusFollower, type TrunkStatusFollower } from './trunk-status-follower.js';
import type { WorkerDispatch } from './worker-dispatch.js';

export interface GatewayOptions {
  host: string;
  port: number;
  tls?: { port: number; cert: Buffer; key: Buffer };
  /** SIP over WebSocket (RFC 7118) for browser and WebRTC clients; wss needs `tls`'s certificate. */
  ws?: { port: number };
  wss?: { port: number };
  /** The address put in Via and Contact; default: `host`, or this machine's first external IPv4 for 0.0.0.0. */
  advertisedHost?: string;
  users: Pick<SipUserRepository, 'findCredentials' | 'digestAlgorithms'>;
  tenants: Pick<TenantRepository, 'findByDomain'>;
  state: Pick<SharedState, 'registrations' | 'calls' | 'counters' | 'events' | 'trunkStatus'>;
  media: MediaAnchor;
  /** Where the recordings the relays store are listed (unset: recorded files are not listed anywhere). */
  recordings?: RecordingSink;
  /** Trunks, numbers and routes (unset: user-to-user calls only). */
  routing?: RoutingDirectory;
  registrar: RegistrarPolicy;
  /** Key of X-Voxgate-Peer hops between replicas (the same on each); default: the registrar's nonce secret. */
  peerSecret?: Buffer | KeyRing;
  /** Where trunks' requests go (RFC 3263); default: located with the system's DNS, kept 30 s. */
  trunkLocator?: TrunkLocator;
  /** How often trunks get an OPTIONS health check; 0 = never (every trunk counts as up). */
  trunkCheckMs?: number;
  /** Outbound registration of trunks with `register` set (unset: none). */
  trunkRegistration?: { expiresSec: number; syncMs?: number; retryMs?: number };
  /** The SIP UDP socket's receive buffer asked of the kernel; unset = the system's default. */
  udpReceiveBufferBytes?: number;
  /** The SIP UDP socket on the native batched sockets (`nativeUdpFor`); unset: Node's dgram. */
  udpNative?: UdpBatchSockets;
  /** With `udpNative`: the SIP workers' shared socket, inherited from their primary. */
  udpSharedFd?: number;
  /** How often bindings accepted here are pinged (OPTIONS on UDP, CRLF on flows); 0 = never. */
  keepaliveMs?: number;
  /**
   * Limits of the TCP, TLS and WebSocket listeners (idle and message timeouts, connections in all and per
   * source); unset ones take the SIP stack's defaults (`DEFAULT_STREAM_LIMITS`).
   */
  streams?: Partial<StreamLimits>;
  calls: Omit<CallSettings, 't1' | 't2'>;
  timers?: TimerSettings;
  gatewayId: string;
  /**
   * One SIP worker of several sharing the UDP socket (worker-dispatch.ts): datagrams of Call-IDs other
   * workers own are handed to them, those they hand here are read as arrived. With `udpOnly` no TCP, TLS or
   * WebSocket listener opens here: another worker holds them, reads their messages and hands those of Call-IDs
   * this worker owns here, and sends on them what this worker sends (`dispatch.relay`).
   */
  dispatch?: Pick<WorkerDispatch, 'take' | 'takeStream' | 'relay' | 'attach'>;
  udpOnly?: boolean;
  /**
   * One SIP worker of several whose trunks another worker checks and registers (the first): this one sends
   * carriers no OPTIONS and no REGISTER, and routes by that worker's checks as it reports them in shared state
   * (`trunk-status-follower.ts`), read every `trunkCheckMs`.
   */
  followTrunks?: boolean;
  isDraining: () => boolean;
  /**
   * Whether new requests outside a dialog are taken; while not, the transaction layer answers them 503 with
   * Retry-After (the sip-gateway module's heap pressure). Unset: always.
   */
  admitting?: () => boolean;
  warn(detail: Record<string, unknown>, message: string): void;
  info?(detail: Record<string, unknown>, message: string): void;
  error(detail: Record<string, unknown>, message: string): void;
}

export interface Gateway {
  readonly endpoint: SipEndpoint;
  readonly layer: TransactionLayer;
  readonly b2bua: B2bua;
  readonly keepalive: BindingKeepalive | undefined;
  /** The OPTIONS checks: undefined with `followTrunks`, which has `trunkFollower` instead. */
  readonly trunkMonitor: TrunkMonitor | undefined;
  /** With `followTrunks`: the checking worker's reports, as this worker reads them to route. */
  readonly trunkFollower: TrunkStatusFollower | undefined;
  readonly trunkRegistrar: TrunkRegistrar | undefined;
  /**
   * Entries of the gateway's long-lived tables now, by structure (for voxgate_memory_structure_entries): digest
   * nonces remembered, transactions, calls (each holds its two dialogs), bindings kept alive.
   */
  structures(): Record<string, number>;
  /** The advertised address per transport. */
  advertised(transport: TransportName | WebSocketTransportName): { host: string; port: number };
  close(): Promise<void>;
}

/** The endpoint's options for the stream limits given (none: the stack's defaults). */
function streamSettings(limits: Partial<StreamLimits> | undefined): Partial<SipEndpointOptions> {
  if (!limits) return {};
  return {
    ...(limits.idleTimeoutMs !== undefined ? { tcpIdleTimeoutMs: limits.idleTimeoutMs } : {}),
    ...(limits.messageTimeoutMs !== undefined ? { messageTimeoutMs: limits.messageTimeoutMs } : {}),
    ...(limits.maxConnections !== undefined ? { maxConnections: limits.maxConnections } : {}),
    ...(limits.maxConnectionsPerSource !== undefined
      ? { maxConnectionsPerSource: limits.maxConnectionsPerSource }
      : {}),
  };
}

/** The address to advertise when bound to a wildcard: the first non-internal IPv4, else loopback. */
export function defaultAdvertisedHost(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/**
 * A transaction user whose handlers are given once, after the layer that calls them was made: the layer is
 * created before the B2BUA that sends on it, the router that handles its requests after. A message before
 * `bind` is a wiring error — the listeners open only once everything is bound — and throws, never waits.
 */
function lateBoundTransactionUser(): { user: TransactionUser; bind(handlers: TransactionUser): void } {
  let bound: TransactionUser | undefined;
  const handlers = (): TransactionUser => {
    if (!bound) throw new Error('gateway: the transaction layer received a message before its TU was bound');
    return bound;
  };
  return {
    user: {
      onRequest: (request, tx, ctx) => handlers().onRequest(request, tx, ctx),
      onCancel: (cancel, invite) => handlers().onCancel?.(cancel, invite),
      onStrayResponse: (response) => handlers().onStrayResponse?.(response),
    },
    bind(next) {
      if (bound) throw new Error('gateway: the transaction user is bound once');
      bound = next;
    },
  };
}

/**
 * The SIP gateway assembled: listeners, the transaction layer, the request router, the registrar and the
 * B2BUA. The platform's sip-gateway module and the tests build it the same way.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const timers = options.timers;
  const routing = options.routing;
  const auth = createSipAuthenticator({
    users: options.users,
    ...(routing ? { trunkByUsername: (username: string) => routing.trunkByUsername(username) } : {}),
    counters: options.state.counters,
    policy: options.registrar,
  });
  // The listening address is read once the listeners are open: asking the sockets per message is a syscall.
  const opened: { endpoint?: SipEndpoint; address?: ReturnType<SipEndpoint['address']> } = {};
  const host = options.advertisedHost ?? defaultAdvertisedHost(options.host);
  // A worker without stream listeners advertises those of the worker holding them, as configured (UDP and
  // TCP share the SIP port).
  const configuredPorts: Partial<Record<TransportName | WebSocketTransportName, number>> = {
    ...(options.tls ? { tls: options.tls.port } : {}),
    ...(options.ws ? { ws: options.ws.port } : {}),
    ...(options.wss ? { wss: options.wss.port } : {}),
  };
  const advertised = (transport: TransportName | WebSocketTransportName) => {
    const address = opened.address;
    const port = address?.[transport]?.port ?? configuredPorts[transport] ?? options.port;
    return { host, port };
  };
  const self = () => {
    const { host: h, port } = advertised('udp');
    return formatHostPort(h, port);
  };
  // The transaction layer comes first and the B2BUA starts client transactions on it; the layer's TU — the
  // request router, which calls the B2BUA — is bound once both exist, before the listeners open.
  const locateTrunk = options.trunkLocator ?? createTrunkLocator({ warn: options.warn });
  const tu = lateBoundTransactionUser();
  const admitting = options.admitting;
  const layer = createTransactionLayer({
    ...(timers ? { timers } : {}),
    ...(admitting ? { admitting } : {}),
    tu: tu.user,
  });
  const outbound = createSipOutbound({
    advertised: (transport) => advertised(transport),
    startTransaction: (bytes, send, opts, events) => layer.sendRequest(bytes, send, opts, events),
    sendBytes: (bytes, target, onFailure) => {
      // Nothing is originated before the listeners are open (the layer and B2BUA start with them).
      if (opened.endpoint) opened.endpoint.send(bytes, target, onFailure);
      else if (onFailure) {
        const failure = { reason: 'no-transport', transport: target.transport, to: target } as const;
        queueMicrotask(() => onFailure(failure));
      }
    },
  });
  const keepalive = options.keepaliveMs
    ? createBindingKeepalive({
        registrations: options.state.registrations,
        outbound,
        intervalMs: options.keepaliveMs,
        self,
      })
    : undefined;
  // The trunk registrar and monitor reach carriers the same way: located by RFC 3263, over the outbound side.
  // A worker following another's trunk checks runs neither: one check and one registration flow per gateway.
  const toCarriers = { outbound, locate: locateTrunk };
  const ownTrunks = !options.followTrunks;
  const trunkRegistrar =
    options.trunkRegistration && routing && ownTrunks
      ? createTrunkRegistrar({
          ...toCarriers,
          trunks: () => routing.registeringTrunks(),
          counters: options.state.counters,
          expiresSec: options.trunkRegistration.expiresSec,
          syncMs: options.trunkRegistration.syncMs ?? 30_000,
          retryMs: options.trunkRegistration.retryMs ?? 30_000,
          onChange: ({ trunkId, state, code }) => {
            const message = `trunk registration ${state}`;
            if (state === 'failed') options.warn({ trunkId, code }, message);
            else options.info?.({ trunkId, code }, message);
          },
        })
      : undefined;
  const trunkMonitor =
    options.trunkCheckMs && routing && ownTrunks
      ? createTrunkMonitor({
          ...toCarriers,
          trunks: () => routing.allTrunks(),
          intervalMs: options.trunkCheckMs,
          onChange: (trunkId, up) =>
            options.warn(
              { trunkId, up },
              up ? 'trunk back in routing' : 'trunk out of routing: no answer to OPTIONS',
            ),
          // Each replica's view goes to shared state, where the API reads it (a trunk's `health`) and the other
          // SIP workers of this gateway route by it (`followTrunks`); it lapses when the replica stops reporting.
          onChecked: (trunkId, up, at) => {
            const registration = trunkRegistrar?.status(trunkId);
            options.state.trunkStatus
              .report(
                trunkId,
                { gateway: self(), reachable: up, checkedAt: at, ...(registration ? { registration } : {}) },
                Math.max(60, Math.ceil((3 * (options.trunkCheckMs ?? 0)) / 1000)),
              )
              .catch((err: unknown) => options.warn({ err, trunkId }, 'trunk status not shared'));
          },
        })
      : undefined;
  const trunkFollower =
    options.trunkCheckMs && routing && !ownTrunks
      ? createTrunkStatusFollower({
          trunks: () => routing.allTrunks(),
          trunkStatus: options.state.trunkStatus,
          gateway: self,
          intervalMs: options.trunkCheckMs,
          // The checking worker warns of the change; here it is only noted.
          onChange: (trunkId, up) =>
            options.info?.(
              { trunkId, up },
              up
                ? 'trunk back in routing, as checked by another worker'
                : 'trunk out of routing, as checked by another worker',
            ),
        })
      : undefined;
  const trunkView = trunkMonitor ?? trunkFollower;
  // A binding's flow stays open while the binding lives, whatever the idle timeout: RFC 5626 lets "requests be
  // delivered on existing connections established by the User Agent" (its abstract), and calls to a binding that
  // needs its flow go nowhere else (`bindingTarget`). A client may send nothing between registrations: RFC 7118
  // clients are not pinged here, and the keepalive may be off (VOXGATE_SIP_KEEPALIVE_SECONDS=0).
  const registrar = createRegistrar({
    self,
    observer: {
      track(aor, binding) {
        keepalive?.track(aor, binding);
        const key = keepaliveKey(aor, binding.contact);
        if (
          binding.flowId === undefined ||
          !opened.endpoint?.holdFlow(binding.flowId, key, binding.expiresAt)
        ) {
          opened.endpoint?.releaseFlow(key);
        }
      },
      untrack(aor, contact) {
        keepalive?.untrack(aor, contact);
        opened.endpoint?.releaseFlow(keepaliveKey(aor, contact));
      },
    },
    users: options.users,
    registrations: options.state.registrations,
    counters: options.state.counters,
    policy: options.registrar,
  });
  const b2bua = createB2bua({
    auth,
    tenants: options.tenants,
    users: options.users,
    state: options.state,
    outbound,
    media: options.media,
    ...(options.recordings ? { recordings: options.recordings } : {}),
    ...(routing ? { routing } : {}),
    ...(trunkView ? { trunkUp: trunkView.isUp } : {}),
    locateTrunk,
    settings: {
      t1: timers?.t1 ?? 500,
      t2: timers?.t2 ?? 4000,
      ...options.calls,
    },
    gatewayId: options.gatewayId,
    self,
    peerSecret: options.peerSecret ?? options.registrar.nonceSecret,
    warn: options.warn,
  });
  const route = createRequestRouter({
    registrar,
    b2bua,
    isDraining: options.isDraining,
    onError: (err, request) => options.error({ err, callId: request.callId }, 'SIP request handling failed'),
  });
  tu.bind({
    onRequest(request, tx, inbound) {
      route(
        request,
        (status, reason, headers) =>
          tx ? tx.respond(status, reason, headers) : inbound.reply(status, reason, headers),
        inbound,
        tx,
        inbound,
      );
    },
    onCancel: (_cancel, invite) => b2bua.cancel(invite),
    onStrayResponse: (response) => b2bua.strayResponse(response),
  });
  const endpoint = await createSipEndpoint({
    host: options.host,
    udpPort: options.port,
    ...(options.udpOnly
      ? {}
      : {
          tcpPort: options.port,
          ...(options.tls ? { tls: options.tls } : {}),
          ...(options.ws ? { ws: options.ws } : {}),
          ...(options.wss && options.tls
            ? { wss: { port: options.wss.port, cert: options.tls.cert, key: options.tls.key } }
            : {}),
        }),
    ...(options.dispatch ? { onDatagram: options.dispatch.take } : {}),
    ...(options.dispatch && !options.udpOnly ? { onStreamMessage: options.dispatch.takeStream } : {}),
    ...(options.dispatch && options.udpOnly ? { streamRelay: options.dispatch.relay } : {}),
    ...streamSettings(options.streams),
    ...(options.udpReceiveBufferBytes ? { udpReceiveBufferBytes: options.udpReceiveBufferBytes } : {}),
    ...(options.udpNative ? { udpNative: options.udpNative } : {}),
    ...(options.udpSharedFd !== undefined ? { udpSharedFd: options.udpSharedFd } : {}),
    // Overloaded, the requests answered statelessly go to the layer too, which refuses them with the rest.
    onRequest: (request, inbound) =>
      answeredStatelessly(request) && (admitting === undefined || admitting())
        ? route(request, statelessReply(request, inbound), inbound)
        : layer.handleRequest(request, inbound),
    onResponse: (response) => layer.handleResponse(response),
  });
  options.dispatch?.attach(endpoint);
  opened.endpoint = endpoint;
  opened.address = endpoint.address();
  // The checking worker's reports are read at once: a worker started after the checks began (a restart)
  // routes by them from its first call, not only after an interval.
  if (trunkFollower) void trunkFollower.refresh().catch(() => undefined);
  return {
    endpoint,
    layer,
    b2bua,
    advertised,
    keepalive,
    trunkMonitor,
    trunkFollower,
    trunkRegistrar,
    structures() {
      const { server, client } = layer.size;
      return {
        // The calls' authenticator and the registrar's, each with its own bounds (docs/reliability.md).
        sip_digest_nonces: auth.trackedNonces + registrar.digest.trackedNonces,
        sip_digest_realms: auth.realms + registrar.digest.realms,
        sip_server_transactions: server,
        sip_client_transactions: client,
        gateway_calls: b2bua.activeCalls,
        ...(keepalive ? { registrar_keepalive_bindings: keepalive.tracked } : {}),
      };
    },
    async close() {
      keepalive?.stop();
      trunkMonitor?.stop();
      trunkFollower?.stop();
      trunkRegistrar?.stop();
      b2bua.close();
      layer.close();
      await endpoint.close();
    },
  };
}
