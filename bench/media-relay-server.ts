/**
 * voxgate's media relay alone in a process, for bench:media to measure its CPU and memory apart from the load
 * generator. Prints `ng <port>` when the ng control socket is open; runs until SIGTERM. Started with an IPC
 * channel, it answers `take` with what it observed of itself since the last one (`media-observe.ts`).
 * Usage: node --import tsx bench/media-relay-server.ts --port-min=40000 --port-max=49999 [--timeout-ms=60000]
 *   [--udp=auto|native|dgram] (the RTP sockets, as VOXGATE_MEDIA_UDP; default auto)
 *   [--ng-receive-buffer-kb=N] (the ng socket's SO_RCVBUF asked; 0: the system's; default: the server's own)
 *   [--loop-delay] (with IPC: its event loop's delay watched too, at a cost in CPU: `observeSelf`)
 */
import { parseArgs } from 'node:util';
import { createMediaRelay, createNgControlServer, relaySockets } from '../src/media/index.js';
import type { UdpMode } from '../src/sip/index.js';
import { observeSelf } from './media-observe.js';

const { values } = parseArgs({
  options: {
    'port-min': { type: 'string', default: '40000' },
    'port-max': { type: 'string', default: '49999' },
    // The media timeout's sweep runs as in production (its default, 60 s); 0 turns it off.
    'timeout-ms': { type: 'string', default: '60000' },
    'ng-receive-buffer-kb': { type: 'string' },
    udp: { type: 'string', default: 'auto' },
    'loop-delay': { type: 'boolean', default: false },
  },
});
const ngBuffer = values['ng-receive-buffer-kb'];
const relay = createMediaRelay({
  bindHost: '127.0.0.1',
  advertised: '127.0.0.1',
  portMin: Number(values['port-min']),
  portMax: Number(values['port-max']),
  timeoutMs: Number(values['timeout-ms']),
  sockets: relaySockets(values.udp as UdpMode).sockets,
});
if (process.send) {
  const observer = observeSelf({ loopDelay: values['loop-delay'] });
  process.on('message', (message) => {
    if (message === 'take') process.send!({ observed: observer.take() });
  });
}
const server = await createNgControlServer({
  host: '127.0.0.1',
  port: 0,
  handlers: relay.handlers,
  ...(ngBuffer === undefined ? {} : { receiveBufferBytes: Number(ngBuffer) * 1024 }),
});
console.log(`ng ${server.address().port}`);
process.once('SIGTERM', () => {
  void server.close().then(() => {
    relay.close();
    process.exit(0);
  });
});
