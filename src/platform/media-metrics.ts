import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { MediaRelay } from '../media/index.js';
import { Counter, Gauge, Histogram, type Registry } from '../observability/index.js';

/** ng commands of RTPengine's protocol; anything else shares one label value. */
const NG_COMMANDS = new Set([
  'ping',
  'offer',
  'answer',
  'delete',
  'query',
  'list',
  'statistics',
  'start recording',
  'stop recording',
  'block DTMF',
  'unblock DTMF',
  'block media',
  'unblock media',
  'play media',
  'stop media',
  'play DTMF',
]);

/**
 * Media relay metrics: ng control from the relay's diagnostics channel, and, given the relay, its sessions,
 * port pairs and media timeouts. Returns the unsubscribe function.
 */
export function collectMediaMetrics(registry: Registry, relay?: () => MediaRelay | undefined): () => void {
  if (relay) {
    new Gauge({
      name: 'voxgate_media_sessions',
      help: 'Calls the relay anchors now.',
      registers: [registry],
      collect() {
        this.set(relay()?.calls ?? 0);
      },
    });
    new Gauge({
      name: 'voxgate_media_port_pairs_in_use',
      help: 'RTP/RTCP port pairs allocated from VOXGATE_RTP_PORT_MIN..MAX.',
      registers: [registry],
      collect() {
        this.set(relay()?.portsInUse ?? 0);
      },
    });
  }
  const timeouts = new Counter({
    name: 'voxgate_media_timeouts_total',
    help: 'Calls the relay deleted because no packet and no command came for VOXGATE_MEDIA_TIMEOUT_SECONDS.',
    registers: [registry],
  });
  const onTimeout = () => timeouts.inc();
  subscribe('voxgate:media:timeout', onTimeout);
  const commands = new Counter({
    name: 'voxgate_media_ng_commands_total',
    help: 'ng control commands answered, by command and result (ok, pong, error); retransmissions answered from cache counted as cached="true".',
    labelNames: ['command', 'result', 'cached'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'voxgate_media_ng_command_duration_seconds',
    help: 'Time to execute an ng command (cache hits excluded), by command.',
    labelNames: ['command'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [registry],
  });
  const onCommand = (m: unknown) => {
    const e = m as { command?: string; result: string; cached: boolean; durationMs: number };
    const command = e.command !== undefined && NG_COMMANDS.has(e.command) ? e.command : 'other';
    commands.inc({ command, result: e.result, cached: String(e.cached) });
    if (!e.cached) duration.observe({ command }, e.durationMs / 1000);
  };
  subscribe('voxgate:media:ng-command', onCommand);
  return () => {
    unsubscribe('voxgate:media:ng-command', onCommand);
    unsubscribe('voxgate:media:timeout', onTimeout);
  };
}
