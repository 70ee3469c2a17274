import type { MediaCallEndedEvent, MediaRelay } from '../media/index.js';
import { metricsIn, type Registry } from '../observability/index.js';
import { subscribeChannels } from './channel-subscriptions.js';

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

/** A counter that follows a running total read at scrape time (one of the relay's, the native sockets'). */
export function followTotal(
  metric: ReturnType<typeof metricsIn>,
  name: string,
  help: string,
  read: () => number | undefined,
): void {
  let seen = 0;
  metric.counter(name, help, {
    collect(counter) {
      const now = read();
      if (now === undefined) return;
      // A restarted relay counts from zero again; the counter goes on from where it was.
      if (now > seen) counter.inc(now - seen);
      seen = now;
    },
  });
}

/** A counter labelled `reason` that follows running totals by reason (a relay's, the gateway's), read at scrape time. */
export function followTotalsByReason(
  metric: ReturnType<typeof metricsIn>,
  name: string,
  help: string,
  read: () => Readonly<Record<string, number>> | undefined,
): void {
  const seen = new Map<string, number>();
  metric.counter(name, help, {
    labelNames: ['reason'],
    collect(counter) {
      const totals = read();
      if (!totals) return;
      for (const [reason, now] of Object.entries(totals)) {
        // A restarted relay counts from zero again; the counter goes on from where it was.
        const before = seen.get(reason) ?? 0;
        if (now > before) counter.inc({ reason }, now - before);
        seen.set(reason, now);
      }
    },
  });
}

/**
 * Media relay metrics: ng control from the relay's diagnostics channels (commands, media timeouts, ended calls
 * with their loss and jitter) and, given the relay, its sessions, port pairs and packet totals read at scrape
 * time (a per-packet channel would cost more than the relaying). Returns the unsubscribe function.
 */
export function collectMediaMetrics(registry: Registry, relay?: () => MediaRelay | undefined): () => void {
  const metric = metricsIn(registry);
  if (relay) {
    metric.gauge('voxgate_media_sessions', 'Calls the relay anchors now.', {
      collect: (gauge) => gauge.set(relay()?.calls ?? 0),
    });
    metric.gauge(
      'voxgate_media_port_pairs_in_use',
      'RTP/RTCP port pairs allocated from VOXGATE_RTP_PORT_MIN..MAX.',
      {
        collect: (gauge) => gauge.set(relay()?.portsInUse ?? 0),
      },
    );
    const totals: [name: string, help: string, read: () => number | undefined][] = [
      [
        'voxgate_media_packets_relayed_total',
        'RTP and RTCP packets the relay forwarded.',
        () => relay()?.counters.packets,
      ],
      [
        'voxgate_media_bytes_relayed_total',
        'Bytes of RTP and RTCP (UDP payload) the relay forwarded.',
        () => relay()?.counters.bytes,
      ],
      [
        'voxgate_media_packet_errors_total',
        'Packets the relay received but did not forward (strict source, no destination known yet).',
        () => relay()?.counters.errors,
      ],
    ];
    for (const [name, help, read] of totals) followTotal(metric, name, help, read);
    followTotalsByReason(
      metric,
      'voxgate_media_srtp_dropped_total',
      'SRTP/SRTCP packets the relay refused where it ends SRTP: malformed, failed authentication, replayed.',
      () => relay()?.counters.srtpDropped,
    );
    followTotalsByReason(
      metric,
      'voxgate_media_stun_dropped_total',
      'STUN packets on ICE-lite legs not answered with success: failed credentials (auth, answered 400/401), malformed (dropped, or 400/420), unexpected (responses: the relay sends no request).',
      () => relay()?.counters.stunDropped,
    );
    followTotal(
      metric,
      'voxgate_media_stun_answered_total',
      'ICE connectivity checks (STUN Binding requests) the relay answered with success.',
      () => relay()?.counters.stunAnswered,
    );
    followTotal(
      metric,
      'voxgate_media_dtls_dropped_total',
      'DTLS records dropped: from a party the relay neither ends nor passes DTLS for, or from an address ICE did not check.',
      () => relay()?.counters.dtlsDropped,
    );
    followTotal(
      metric,
      'voxgate_media_dtls_connected_total',
      'DTLS-SRTP handshakes the relay completed (WebRTC parties, RFC 5764).',
      () => relay()?.counters.dtlsConnected,
    );
    followTotalsByReason(
      metric,
      'voxgate_media_dtls_failed_total',
      'DTLS-SRTP handshakes that failed: malformed, unsupported (no common suite or profile), fingerprint (certificate not the SDP one), crypto, alert (from the peer), timeout.',
      () => relay()?.counters.dtlsFailed,
    );
  }
  const timeouts = metric.counter(
    'voxgate_media_timeouts_total',
    'Calls the relay deleted because no packet and no command came for VOXGATE_RELAY_IDLE_SESSION_SECONDS.',
  );
  const ended = metric.counter(
    'voxgate_media_sessions_ended_total',
    'Calls that left the relay, by reason (delete, timeout, shutdown).',
    { labelNames: ['reason'] },
  );
  const lost = metric.counter(
    'voxgate_media_packets_lost_total',
    'RTP packets missing from the sequence numbers of the streams of ended calls (RFC 3550 A.3).',
  );
  const jitter = metric.histogram(
    'voxgate_media_stream_jitter_seconds',
    'RFC 3550 interarrival jitter of each stream with RTP, at the end of its call.',
    [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2],
  );
  const commands = metric.counter(
    'voxgate_media_ng_commands_total',
    'ng control commands answered, by command and result (ok, pong, error); retransmissions answered from cache counted as cached="true".',
    { labelNames: ['command', 'result', 'cached'] },
  );
  const duration = metric.histogram(
    'voxgate_media_ng_command_duration_seconds',
    'Time to execute an ng command (cache hits excluded), by command.',
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    { labelNames: ['command'] },
  );
  return subscribeChannels({
    'voxgate:media:timeout': () => timeouts.inc(),
    'voxgate:media:call-ended': (m) => {
      const e = m as MediaCallEndedEvent;
      ended.inc({ reason: e.reason });
      for (const stream of e.streams) {
        lost.inc(stream.lost);
        if (stream.packets > 1) jitter.observe(stream.jitterMs / 1000);
      }
    },
    'voxgate:media:ng-command': (m) => {
      const e = m as { command?: string; result: string; cached: boolean; durationMs: number };
      const command = e.command !== undefined && NG_COMMANDS.has(e.command) ? e.command : 'other';
      commands.inc({ command, result: e.result, cached: String(e.cached) });
      if (!e.cached) duration.observe({ command }, e.durationMs / 1000);
    },
  });
}
