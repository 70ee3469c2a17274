// The native batched UDP sockets' counters on /metrics (src/platform/native-udp-metrics.ts): read from the real
// addon at scrape time — the sockets open, and a send the kernel refuses counted, the counter going on from where
// it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetricsRegistry } from '../../src/observability/index.js';
import { exportNativeUdpMetrics } from '../../src/platform/native-udp-metrics.js';
import { udpBatchSockets } from '../../src/sip/index.js';

const native = udpBatchSockets();
// Under CI the addon is built by `npm test` (npm run build): its absence is a failure there.
const skip = native instanceof Error && !process.env.CI ? native.message : false;

/** The value of `name` (unlabelled) in the registry's exposition text. */
async function valueOf(registry: ReturnType<typeof createMetricsRegistry>['registry'], name: string) {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} exported`);
  return Number(line.split(' ')[1]);
}

test(
  'native UDP metrics: sockets open and refused sends, read from the addon at scrape time',
  { skip },
  async () => {
    if (native instanceof Error) throw native;
    const { registry } = createMetricsRegistry({ version: 'test', target: 'test', env: 'test' });
    exportNativeUdpMetrics(registry);
    const openBefore = await valueOf(registry, 'voxgate_native_udp_sockets');
    const errorsBefore = await valueOf(registry, 'voxgate_native_udp_send_errors_total');
    const socket = native.open('127.0.0.1', 0);
    if (socket instanceof Error) throw socket;
    try {
      assert.equal(await valueOf(registry, 'voxgate_native_udp_sockets'), openBefore + 1);
      // Port 0 is no destination: sendto(2) refuses it, and the datagram is lost and counted.
      socket.send(Buffer.from('x'), 0, '127.0.0.1');
      socket.send(Buffer.from('y'), 0, '127.0.0.1');
      assert.equal(await valueOf(registry, 'voxgate_native_udp_send_errors_total'), errorsBefore + 2);
      assert.equal(await valueOf(registry, 'voxgate_native_udp_truncated_total'), 0);
    } finally {
      socket.close();
    }
    assert.equal(await valueOf(registry, 'voxgate_native_udp_sockets'), openBefore);
    assert.equal(await valueOf(registry, 'voxgate_native_udp_send_errors_total'), errorsBefore + 2);
  },
);
