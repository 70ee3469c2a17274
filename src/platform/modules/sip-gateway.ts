import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRegistrar, createRequestRouter, STATELESS_METHODS } from '../../gateway/index.js';
import { createSipEndpoint, createTransactionLayer, type SipEndpoint } from '../../sip/index.js';
import { createSipUserRepository } from '../../store/index.js';
import type { ModuleDefinition } from '../module.js';
import { requireService } from '../module.js';
import { collectSipMetrics } from '../sip-metrics.js';

/**
 * The SIP listeners (UDP and TCP on VOXGATE_SIP_PORT, TLS when a certificate is configured), the transaction
 * layer above them, and the gateway's request router (OPTIONS, the registrar; calls arrive with the B2BUA).
 */
export const sipGatewayModule: ModuleDefinition = {
  name: 'sip-gateway',
  deps: ['http-server', 'store', 'shared-state'],
  async init(ctx) {
    const { sip } = ctx.config;
    const store = requireService(ctx, 'store', 'sip-gateway');
    const state = requireService(ctx, 'sharedState', 'sip-gateway');
    const tls = sip.tls
      ? { port: sip.tls.port, cert: await readFile(sip.tls.certFile), key: await readFile(sip.tls.keyFile) }
      : undefined;
    if (!sip.nonceSecret && state.kind === 'redis') {
      ctx.logger.warn(
        'VOXGATE_SIP_NONCE_SECRET is unset: digest nonces of one gateway replica fail on the others',
      );
    }
    const registrar = createRegistrar({
      users: createSipUserRepository(store),
      registrations: state.registrations,
      counters: state.counters,
      policy: {
        minExpires: sip.register.minExpires,
        maxExpires: sip.register.maxExpires,
        defaultExpires: Math.min(3600, sip.register.maxExpires),
        banThreshold: sip.authBan.threshold,
        banSeconds: sip.authBan.seconds,
        nonceSecret: sip.nonceSecret ? Buffer.from(sip.nonceSecret) : randomBytes(32),
        digestAlgorithms: sip.digestAlgorithms,
      },
    });
    const route = createRequestRouter({
      registrar,
      isDraining: ctx.isDraining,
      onError: (err, request) =>
        ctx.logger.error({ err, callId: request.callId }, 'SIP request handling failed'),
    });
    const layer = createTransactionLayer({
      tu: {
        onRequest(request, tx, inbound) {
          if (!tx) return; // an ACK for a 2xx: belongs to a dialog, none exist before the B2BUA
          route(request, (status, reason, headers) => tx.respond(status, reason, headers), inbound);
        },
      },
    });
    let endpoint: SipEndpoint | undefined;
    const stopMetrics = collectSipMetrics(ctx.metrics);
    return {
      async start() {
        endpoint = await createSipEndpoint({
          host: sip.host,
          udpPort: sip.port,
          tcpPort: sip.port,
          tls,
          onRequest: (request, inbound) =>
            STATELESS_METHODS.has(request.method)
              ? route(request, inbound.reply, inbound)
              : layer.handleRequest(request, inbound),
          onResponse: (response) => layer.handleResponse(response),
        });
        const address = endpoint.address();
        ctx.logger.info(
          { udp: address.udp?.port, tcp: address.tcp?.port, tls: address.tls?.port ?? 'off' },
          'SIP listening',
        );
      },
      async ready() {
        if (!endpoint) throw new Error('SIP listeners not open');
      },
      async stop() {
        stopMetrics();
        layer.close();
        await endpoint?.close();
      },
    };
  },
};
