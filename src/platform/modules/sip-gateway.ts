import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import {
  createDirectoryCache,
  followCallCommands,
  followPlacedCalls,
  followProvisioningChanges,
  createMediaAnchor,
  createStoreRecordingSink,
  createStoreRoutingDirectory,
  startGateway,
  type Gateway,
} from '../../gateway/index.js';
import { createNgClient } from '../../media/index.js';
import { nativeUdpFor, type UdpBatchSockets } from '../../sip/index.js';
import { Gauge, metricsIn } from '../../observability/index.js';
import { createSipUserRepository, createTenantRepository } from '../../store/index.js';
import type { ModuleDefinition } from '../module.js';
import { requireService } from '../module.js';
import { collectCallMetrics } from '../call-metrics.js';
import { followTotalsByReason } from '../media-metrics.js';
import { collectSipMetrics } from '../sip-metrics.js';
import { exportStructureSizes, type StructureSize } from '../memory-metrics.js';
import { createRateLimitedLog } from '../../observability/rate-limited-log.js';
import { logCalls } from '../call-log.js';
import { advertisedAddresses } from '../advertised-addresses.js';
import { logRegistrations } from '../registration-log.js';
import { publishRegistrationChanges } from '../registration-events.js';
import { DEFAULT_SIP_UDP_RECEIVE_BUFFER_KB } from '../config/index.js';
import { RotatingSecret } from '../rotating-secret.js';
import { watchModuleSecrets } from '../secret-files.js';
import { linkSipWorker, type SipWorkerLink } from '../sip-worker-link.js';
import { sharedSipUdpFd, sipWorkerPlace } from '../sip-workers.js';
import { watchHeapPressure, type HeapPressure } from '../heap-pressure.js';

/**
 * The SIP listeners (UDP and TCP on VOXGATE_SIP_PORT, TLS when a certificate is configured), the transaction
 * layer above them, the registrar and the B2BUA, with media anchored on the configured ng relays.
 */
export const sipGatewayModule: ModuleDefinition = {
  name: 'sip-gateway',
  deps: ['http-server', 'tracing', 'store', 'shared-state'],
  async init(ctx) {
    const { sip, calls } = ctx.config;
    const store = requireService(ctx, 'store');
    const state = requireService(ctx, 'sharedState');
    const tls = sip.tls
      ? { port: sip.tls.port, cert: await readFile(sip.tls.certFile), key: await readFile(sip.tls.keyFile) }
      : undefined;
    if (!sip.nonceSecret && state.kind === 'redis') {
      ctx.logger.warn(
        'VOXGATE_SIP_NONCE_SECRET is unset: digest nonces of one gateway replica fail on the others',
      );
    }
    // Unset, the peer secret is the nonce secret (random per process when that is unset too). Given as files
    // (<NAME>_FILE), each is re-read and rotated live: the previous key keeps verifying for the overlap.
    const timing = ctx.config.secrets;
    const nonceSecret = new RotatingSecret(
      sip.nonceSecret ? Buffer.from(sip.nonceSecret) : randomBytes(32),
      timing,
    );
    const ownPeerSecret =
      Boolean(ctx.config.secretFiles?.VOXGATE_SIP_PEER_SECRET) ||
      (sip.peerSecret !== undefined && sip.peerSecret !== sip.nonceSecret);
    const peerSecret = ownPeerSecret ? new RotatingSecret(Buffer.from(sip.peerSecret!), timing) : nonceSecret;
    const rings = { VOXGATE_SIP_NONCE_SECRET: nonceSecret, VOXGATE_SIP_PEER_SECRET: peerSecret };
    const secretFiles = watchModuleSecrets(
      ctx,
      {
        VOXGATE_SIP_NONCE_SECRET: sip.nonceSecret,
        ...(ownPeerSecret ? { VOXGATE_SIP_PEER_SECRET: sip.peerSecret } : {}),
      },
      (name, value) => void rings[name as keyof typeof rings].rotate(Buffer.from(value)),
    );
    metricsIn(ctx.metrics).gauge(
      'voxgate_secret_keys_accepted',
      'Keys of a rotated SIP secret accepted now, by setting: 2 (or more) while a previous or not yet signing one is.',
      {
        labelNames: ['secret'],
        collect: (gauge) => {
          for (const [name, ring] of Object.entries(rings)) gauge.set({ secret: name }, ring.accepted.length);
        },
      },
    );
    // One of several SIP workers (VOXGATE_SIP_WORKERS, sip-workers.ts): streams, trunk checks and trunk
    // registrations stay on worker 0.
    const place = sipWorkerPlace();
    // SIP workers read the native socket their primary opened (inherited), or without one the dgram socket
    // Node's cluster shares; the primary logs why not.
    const sharedFd = place ? sharedSipUdpFd() : undefined;
    const udp: { native?: UdpBatchSockets; fallback?: string } = place
      ? sharedFd === undefined
        ? {}
        : nativeUdpFor('native', 'VOXGATE_SIP_UDP')
      : nativeUdpFor(sip.udp, 'VOXGATE_SIP_UDP');
    // The ng clients use the SIP port's kind of socket: on the native ones an INVITE's offer leaves with the
    // batch's other sends.
    const relays = calls.relays.map((r) => ({
      name: `${r.host}:${r.port}`,
      client: createNgClient({
        host: r.host,
        port: r.port,
        timeoutMs: 500,
        retries: 2,
        ...(udp.native ? { udp: udp.native } : {}),
      }),
    }));
    const media = createMediaAnchor({
      relays,
      onRelayDown: (relay, err) => ctx.logger.warn({ relay, err }, 'media relay out of rotation'),
    });
    const gatewayId = `${hostname()}:${process.pid}`;
    const directory = createDirectoryCache(
      {
        routing: createStoreRoutingDirectory(store),
        tenants: createTenantRepository(store),
        users: createSipUserRepository(store),
      },
      { ttlMs: calls.directoryCacheMs, maxEntries: 100_000 },
    );
    let changes: { stop(): Promise<void> } | undefined;
    let commands: { stop(): Promise<void> } | undefined;
    let placed: { stop(): Promise<void> } | undefined;
    let gateway: Gateway | undefined;
    let link: SipWorkerLink | undefined;
    new Gauge({
      name: 'voxgate_media_relays_configured',
      help: 'ng media relays this gateway is configured to anchor calls on (VOXGATE_GATEWAY_MEDIA_RELAYS).',
      registers: [ctx.metrics],
      collect() {
        this.set(relays.length);
      },
    });
    new Gauge({
      name: 'voxgate_media_relays_in_rotation',
      help: 'Configured media relays in rotation: a relay that failed an ng request is out for 30 s.',
      registers: [ctx.metrics],
      collect() {
        this.set(media.healthy().length);
      },
    });
    const stopSipMetrics = collectSipMetrics(ctx.metrics, {
      transactions: () => gateway?.layer.size ?? { server: 0, client: 0 },
      registrations: () => gateway?.keepalive?.tracked,
      connections: () => gateway?.endpoint.connections(),
    });
    const stopCallMetrics = collectCallMetrics(ctx.metrics);
    const ofGateway =
      (name: string): StructureSize =>
      () =>
        gateway?.structures()[name];
    const stopStructures = exportStructureSizes(ctx.metrics, {
      directory_cache: () => directory.stats.size,
      sip_digest_nonces: ofGateway('sip_digest_nonces'),
      sip_digest_realms: ofGateway('sip_digest_realms'),
      sip_server_transactions: ofGateway('sip_server_transactions'),
      sip_client_transactions: ofGateway('sip_client_transactions'),
      gateway_calls: ofGateway('gateway_calls'),
      registrar_keepalive_bindings: ofGateway('registrar_keepalive_bindings'),
    });
    // Overload: past VOXGATE_SIP_OVERLOAD_HEAP_PERCENT of the heap's cap alive, new requests outside a dialog are
    // answered 503 (the transaction layer) until what is in progress has ended and freed it.
    let pressure: HeapPressure | undefined;
    const mib = (bytes: number) => Math.round(bytes / 1048576);
    metricsIn(ctx.metrics).gauge(
      'voxgate_sip_overloaded',
      "1 while new SIP requests outside a dialog are refused with 503 because the heap's old generation is near its cap (VOXGATE_SIP_OVERLOAD_HEAP_PERCENT).",
      { collect: (gauge) => gauge.set(pressure?.high ? 1 : 0) },
    );
    followTotalsByReason(
      metricsIn(ctx.metrics),
      'voxgate_sip_requests_refused_total',
      'New SIP requests answered 503 without a transaction, by reason: overload (the heap near its cap), full (the transaction tables at their bounds).',
      () => {
        const layer = gateway?.layer;
        return layer && { overload: layer.refusedOverload, full: layer.refusedFull };
      },
    );
    const registrationLog = logRegistrations(ctx.logger);
    const gatewayLog = createRateLimitedLog(ctx.logger, { burst: 20, perSecond: 2 });
    // Registration changes for the worker's registration.changed webhooks.
    const stopRegistrationEvents = publishRegistrationChanges(state.events, (err, change) =>
      gatewayLog.log(
        'registration-event',
        'warn',
        { err, user: change.aor },
        'registration change not published; no webhook for it',
      ),
    );
    const callLog = logCalls(ctx.logger);
    return {
      async start() {
        link = place ? await linkSipWorker(place, ctx.metrics) : undefined;
        if (udp.fallback) ctx.logger.warn({ reason: udp.fallback }, 'SIP UDP on Node.js dgram sockets');
        const high = sip.overloadHeapRatio;
        pressure =
          high === undefined
            ? undefined
            : watchHeapPressure({
                highRatio: high,
                lowRatio: Math.max(high - 0.15, high / 2),
                onChange: (overloaded, reading) => {
                  const detail = {
                    oldGenerationMiB: mib(reading.usedBytes),
                    capMiB: mib(reading.limitBytes),
                  };
                  if (overloaded)
                    ctx.logger.warn(
                      detail,
                      'SIP overload: the heap is near its cap; new requests outside a dialog are answered 503 ' +
                        'until calls in progress free it (docs/reliability.md)',
                    );
                  else ctx.logger.info(detail, 'SIP overload over: new requests are taken again');
                },
              });
        const heap = pressure;
        gateway = await startGateway({
          ...(heap ? { admitting: () => !heap.high } : {}),
          // Trunk OPTIONS checks and REGISTERs go from worker 0 alone, as one gateway's; the others route by its
          // reports in shared state.
          ...(link && place
            ? { dispatch: link.dispatch, udpOnly: place.worker > 0, followTrunks: place.worker > 0 }
            : {}),
          host: sip.host,
          port: sip.port,
          ...(tls ? { tls } : {}),
          ...(sip.wsPort ? { ws: { port: sip.wsPort } } : {}),
          ...(sip.wssPort ? { wss: { port: sip.wssPort } } : {}),
          advertisedHost: advertisedAddresses(ctx.config).sip,
          users: directory.users,
          tenants: directory.tenants,
          state,
          media,
          recordings: createStoreRecordingSink({ db: store, events: state.events }),
          routing: directory.routing,
          keepaliveMs: sip.keepaliveMs,
          ...(sip.udpReceiveBufferBytes ? { udpReceiveBufferBytes: sip.udpReceiveBufferBytes } : {}),
          ...(udp.native ? { udpNative: udp.native } : {}),
          ...(udp.native && sharedFd !== undefined ? { udpSharedFd: sharedFd } : {}),
          streams: sip.streams,
          trunkCheckMs: calls.trunkCheckMs,
          trunkRegistration: { expiresSec: calls.trunkRegisterExpiresSec },
          registrar: {
            minExpires: sip.register.minExpires,
            maxExpires: sip.register.maxExpires,
            maxContacts: sip.register.maxContacts,
            defaultExpires: Math.min(3600, sip.register.maxExpires),
            banThreshold: sip.authBan.threshold,
            banSeconds: sip.authBan.seconds,
            nonceSecret,
            digestAlgorithms: sip.digestAlgorithms,
          },
          calls: {
            ringTimeoutMs: calls.ringTimeoutMs,
            maxDurationMs: calls.maxDurationMs,
            mediaTimeoutMs: calls.noRtpHangupMs,
          },
          peerSecret,
          gatewayId,
          isDraining: ctx.isDraining,
          // Per message, rate-limited: an outage (the store, Redis, a relay) fails every request the same way,
          // and must not turn into one line per request.
          warn: (detail, message) => gatewayLog.log(message, 'warn', detail, message),
          info: (detail, message) => gatewayLog.log(message, 'info', detail, message),
          error: (detail, message) => gatewayLog.log(message, 'error', detail, message),
        });
        changes = followProvisioningChanges({
          events: state.events,
          group: `gateway:${gatewayId}`,
          onChange: () => directory.invalidate(),
          onError: (err) => ctx.logger.warn({ err }, 'reading provisioning changes failed; retrying'),
        });
        // Calls ended through the API: the API finds the replica in the live call and addresses it here.
        commands = followCallCommands({
          events: state.events,
          b2bua: gateway.b2bua,
          gatewayId,
          group: `gateway-calls:${gatewayId}`,
          onCommand: (command, done, refused) =>
            command.type === 'hangup'
              ? ctx.logger.info(
                  { callId: command.callId, tenantId: command.tenantId, ended: done },
                  done ? 'call ended through the API' : 'call to end through the API was no longer here',
                )
              : command.type === 'record'
                ? ctx.logger.info(
                    {
                      callId: command.callId,
                      tenantId: command.tenantId,
                      recording: command.recording,
                      refused,
                    },
                    done
                      ? 'call recording changed through the API'
                      : 'call recording through the API refused',
                  )
                : ctx.logger.info(
                    { callId: command.callId, tenantId: command.tenantId, target: command.target, refused },
                    done
                      ? 'call transfer through the API under way'
                      : 'call transfer through the API refused',
                  ),
          onError: (err) => ctx.logger.warn({ err }, 'reading call commands failed; retrying'),
        });
        // Calls placed through the API (click-to-call): one replica of all takes each, in a group they share.
        placed = followPlacedCalls({
          events: state.events,
          b2bua: gateway.b2bua,
          consumer: gatewayId,
          onPlaced: (command) =>
            ctx.logger.info(
              { callId: command.callId, tenantId: command.tenantId, from: command.from, to: command.to },
              'placing a call for the API',
            ),
          onError: (err) => ctx.logger.warn({ err }, 'placing a call for the API failed'),
        });
        // The bindings this replica accepted before it stopped (Redis, or the memory state's file) are kept
        // alive again from now on, not only those registered after the start.
        // With several workers the first one takes them over (each binding pinged once after a restart).
        const keepalive = place && place.worker > 0 ? undefined : gateway.keepalive;
        keepalive
          ?.restore()
          .then((n) =>
            ctx.logger.info({ bindings: n }, 'keepalive resumed for registrations of this replica'),
          )
          .catch((err: unknown) =>
            ctx.logger.warn({ err }, 'registrations of this replica not read; the keepalive tries again'),
          );
        const address = gateway.endpoint.address();
        // Linux grants at most net.core.rmem_max and reports twice what it granted.
        const buffer = gateway.endpoint.udpReceiveBuffer();
        ctx.logger.info(
          {
            udp: address.udp?.port,
            udpSockets: udp.native ? 'native' : 'dgram',
            // What the kernel holds for the UDP socket's queue (SO_RCVBUF as reported: its bookkeeping included).
            udpReceiveBufferBytes: buffer?.reported,
            tcp: address.tcp?.port,
            tls: address.tls?.port ?? 'off',
            ws: address.ws?.port ?? 'off',
            wss: address.wss?.port ?? 'off',
            advertised: gateway.advertised('udp').host,
            relays: relays.map((r) => r.name),
            ...(place ? { worker: place.worker, workers: place.workers } : {}),
          },
          'SIP listening',
        );
        if (buffer?.asked && buffer.reported < 2 * buffer.asked && (!place || place.worker === 0)) {
          // The default is capped on every stock kernel (rmem_max 208 KiB), where it still gets twice the
          // system's buffer: said, not warned; a size the operator chose and did not get is a warning.
          const byDefault = buffer.asked === DEFAULT_SIP_UDP_RECEIVE_BUFFER_KB * 1024;
          ctx.logger[byDefault ? 'info' : 'warn'](
            { askedBytes: buffer.asked, grantedBytes: Math.floor(buffer.reported / 2) },
            'SIP UDP receive buffer smaller than VOXGATE_SIP_UDP_RECEIVE_BUFFER_KB asks: net.core.rmem_max caps ' +
              'it (docs/deployment.md)',
          );
        }
        link?.announce();
      },
      async ready() {
        if (!gateway) throw new Error('SIP listeners not open');
      },
      async drain(deadline) {
        await gateway?.b2bua.drain(deadline);
      },
      async stop() {
        secretFiles?.stop();
        stopSipMetrics();
        pressure?.close();
        stopCallMetrics();
        stopStructures();
        registrationLog.stop();
        stopRegistrationEvents();
        callLog.stop();
        gatewayLog.flush();
        await changes?.stop();
        await commands?.stop();
        await placed?.stop();
        await gateway?.close();
        await link?.close();
        await Promise.all(relays.map((r) => r.client.close()));
      },
    };
  },
};
