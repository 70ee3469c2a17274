import { join } from 'node:path';
import {
  createMediaRelay,
  createNgControlServer,
  type MediaRelay,
  relaySockets,
  srtpEngine,
  type NgControlServer,
} from '../../media/index.js';
import { createFolderStore, createS3Store } from '../../store/index.js';
import { collectMediaMetrics } from '../media-metrics.js';
import { exportStructureSizes } from '../memory-metrics.js';
import { advertisedAddresses } from '../advertised-addresses.js';
import type { ModuleDefinition } from '../module.js';

/**
 * The media relay: ng control (RTPengine's protocol) on VOXGATE_MEDIA_NG, RTP/RTCP port pairs from
 * VOXGATE_RTP_PORT_MIN..MAX on the same interface, the SDP pointing at the advertised
 * address (`advertisedAddresses`: VOXGATE_MEDIA_ADVERTISED_ADDRESS, VOXGATE_ADVERTISED_ADDRESS or the ng host).
 * Calls asked to be recorded are spooled under VOXGATE_DATA_DIR/recordings/.spool and stored in that folder,
 * or uploaded to VOXGATE_RECORDINGS_URL (S3 or S3-compatible) when it is set.
 */
export const mediaRelayModule: ModuleDefinition = {
  name: 'media-relay',
  deps: ['http-server', 'tracing'],
  async init(ctx) {
    const { media } = ctx.config;
    let server: NgControlServer | undefined;
    let relay: MediaRelay | undefined;
    const s3 = media.recordings ? createS3Store(media.recordings) : undefined;
    const stopMetrics = collectMediaMetrics(ctx.metrics, () => relay);
    const stopStructures = exportStructureSizes(ctx.metrics, {
      ng_reply_cache: () => server?.cachedReplies,
      media_relay_calls: () => relay?.calls,
    });
    return {
      async start() {
        const recordings = join(ctx.config.dataDir, 'recordings');
        // Created on the first recording: a relay that records nothing writes nothing.
        const spoolDir = join(recordings, '.spool');
        const advertised = advertisedAddresses(ctx.config).media;
        const udp = relaySockets(media.udp);
        if (udp.fallback) ctx.logger.warn({ reason: udp.fallback }, 'media relay on Node.js dgram sockets');
        const srtp = srtpEngine();
        if (srtp.reason) ctx.logger.warn({ reason: srtp.reason }, 'media relay SRTP in JavaScript');
        relay = createMediaRelay({
          bindHost: media.ng.host,
          advertised,
          portMin: media.rtpPortMin,
          portMax: media.rtpPortMax,
          timeoutMs: media.idleSessionMs,
          recording: { store: s3 ?? createFolderStore(recordings), spoolDir },
          sockets: udp.sockets,
        });
        server = await createNgControlServer({
          host: media.ng.host,
          port: media.ng.port,
          handlers: relay.handlers,
        });
        ctx.logger.info(
          {
            ng: server.address(),
            advertised,
            rtp: `${media.rtpPortMin}-${media.rtpPortMax}`,
            udp: udp.sockets.kind,
            srtp: srtp.engine,
            recordings: media.recordings?.url ?? recordings,
          },
          'media relay ng control listening',
        );
      },
      async ready() {
        if (!server) throw new Error('ng control not open');
      },
      async stop() {
        stopMetrics();
        stopStructures();
        await server?.close();
        // Recordings of the calls just ended are uploaded before the S3 client goes.
        await relay?.close();
        s3?.close();
      },
    };
  },
};
