import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { MediaCallEndedEvent, MediaRelay } from '../media/index.js';
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

/** A counter that follows one of the relay's running totals (read at scrape time). */
function followTotal(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now === undefined) return;
      // A restarted relay counts from zero again; the counter goes on from where it was.
      if (now > seen) this.inc(now - seen);
      seen = now;
    },
  });
}

/**
 * Media relay metrics: ng control from the relay's diagnostics channels (commands, media timeouts, ended calls
 * with their loss and jitter) and, given the relay, its sessions, port pairs and packet totals read at scrape
 * time (a per-packet channel would cost more than the relaying). Returns the unsubscribe function.
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
    followTotal(
      registry,
      'voxgate_media_packets_relayed_total',
      'RTP and RTCP packets the relay forwarded.',
      () => relay()?.counters.packets,
    );
    followTotal(
      registry,
      'voxgate_media_bytes_relayed_total',
      'Bytes of RTP and RTCP (UDP payload) the relay forwarded.',
      () => relay()?.counters.bytes,
    );
    followTotal(
      registry,
      'voxgate_media_packet_errors_total',
      'Packets the relay received but did not forward (strict source, no destination known yet).',
      () => relay()?.counters.errors,
    );
  }
  const timeouts = new Counter({
    name: 'voxgate_media_timeouts_total',
    help: 'Calls the relay deleted because no packet and no command came for VOXGATE_RELAY_IDLE_SESSION_SECONDS.',
    registers: [registry],
  });
  const onTimeout = () => timeouts.inc();
  subscribe('voxgate:media:timeout', onTimeout);
  const ended = new Counter({
    name: 'voxgate_media_sessions_ended_total',
    help: 'Calls that left the relay, by reason (delete, timeout, shutdown).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const lost = new Counter({
    name: 'voxgate_media_packets_lost_total',
    help: 'RTP packets missing from the sequence numbers of the streams of ended calls (RFC 3550 A.3).',
    registers: [registry],
  });
  const jitter = new Histogram({
    name: 'voxgate_media_stream_jitter_seconds',
    help: 'RFC 3550 interarrival jitter of each stream with RTP, at the end of its call.',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2],
    registers: [registry],
  });
  const onEnded = (m: unknown) => {
    const e = m as MediaCallEndedEvent;
    ended.inc({ reason: e.reason });
    for (const stream of e.streams) {
      lost.inc(stream.lost);
      if (stream.packets > 1) jitter.observe(stream.jitterMs / 1000);
    }
  };
  subscribe('voxgate:media:call-ended', onEnded);
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
    unsubscribe('voxgate:media:call-ended', onEnded);
  };
}
