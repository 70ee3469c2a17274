import { metricsIn, type Registry } from '../observability/index.js';
import { nativeUdpStats, type UdpBatchStats } from '../sip/index.js';
import { followTotal } from './media-metrics.js';

/**
 * The native batched UDP sockets' own counters (`native/udp-batch`, the SIP port's and the relay's sockets when
 * `VOXGATE_SIP_UDP` / `VOXGATE_MEDIA_UDP` took them), read at scrape time: sends the kernel refused (lost, as
 * on the wire: a full socket buffer, an ICMP error reported back), datagrams longer than a slot (none expected),
 * and the sockets open. They stay at 0 while the process has not loaded the addon (dgram everywhere).
 * One addon per process: its counters are the process's, whichever module opened the sockets.
 */
export function exportNativeUdpMetrics(
  registry: Registry,
  read: () => UdpBatchStats | undefined = nativeUdpStats,
): void {
  const metric = metricsIn(registry);
  followTotal(
    metric,
    'voxgate_native_udp_send_errors_total',
    'Datagrams the kernel refused to send on the native batched UDP sockets (lost: full socket buffer, ICMP error).',
    () => read()?.sendErrors,
  );
  followTotal(
    metric,
    'voxgate_native_udp_truncated_total',
    'Datagrams longer than a receive slot (64 KiB) dropped by the native batched UDP sockets; none expected.',
    () => read()?.truncated,
  );
  metric.gauge('voxgate_native_udp_sockets', 'Native batched UDP sockets open in this process.', {
    collect(g) {
      const stats = read();
      if (stats) g.set(stats.open);
    },
  });
}
