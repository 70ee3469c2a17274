import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Registry } from '../../src/observability/index.js';
import { collectSipMetrics } from '../../src/platform/sip-metrics.js';
import { createSipEndpoint } from '../../src/sip/index.js';

async function waitFor(condition: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SIP connection metrics', () => {
  test('open connections by transport, refusals by limit, closes by reason', async () => {
    const registry = new Registry();
    const endpoint = await createSipEndpoint({
      host: '127.0.0.1',
      tcpPort: 0,
      tcpIdleTimeoutMs: 1000,
      messageTimeoutMs: 200,
      maxConnectionsPerSource: 2,
      onRequest: (_request, ctx) => ctx.reply(200, 'OK'),
    });
    const stop = collectSipMetrics(registry, {
      transactions: () => ({ server: 0, client: 0 }),
      registrations: () => 0,
      connections: () => endpoint.connections(),
    });
    const port = endpoint.address().tcp!.port;
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        sockets.push(socket);
        await new Promise((r) => socket.once('connect', r));
      }
      sockets[0]!.write('OPTIONS sip:x SIP/2.0\r\n'); // begun, never finished: the message timeout
      const text = () => registry.metrics();
      await waitFor(async () =>
        /^voxgate_sip_connections_refused_total\{transport="tcp",reason="per-source"\} 1$/m.test(
          await text(),
        ),
      );
      assert.match(await text(), /^voxgate_sip_connections\{transport="tcp"\} 2$/m);
      await waitFor(async () => {
        const t = await text();
        return (
          /^voxgate_sip_connections_closed_total\{transport="tcp",reason="message-timeout"\} 1$/m.test(t) &&
          /^voxgate_sip_connections_closed_total\{transport="tcp",reason="idle"\} 1$/m.test(t)
        );
      });
      assert.match(await text(), /^voxgate_sip_connections\{transport="tcp"\} 0$/m);
    } finally {
      stop();
      for (const socket of sockets) socket.destroy();
      await endpoint.close();
    }
  });
});
