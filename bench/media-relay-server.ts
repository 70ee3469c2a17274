/**
 * voxgate's media relay alone in a process, for bench:media to measure its CPU and memory apart from the load
 * generator. Prints `ng <port>` when the ng control socket is open; runs until SIGTERM.
 * Usage: node --import tsx bench/media-relay-server.ts --port-min=40000 --port-max=49999
 */
import { parseArgs } from 'node:util';
import { createMediaRelay, createNgControlServer } from '../src/media/index.js';

const { values } = parseArgs({
  options: {
    'port-min': { type: 'string', default: '40000' },
    'port-max': { type: 'string', default: '49999' },
  },
});
const relay = createMediaRelay({
  bindHost: '127.0.0.1',
  advertised: '127.0.0.1',
  portMin: Number(values['port-min']),
  portMax: Number(values['port-max']),
  timeoutMs: 0,
});
const server = await createNgControlServer({ host: '127.0.0.1', port: 0, handlers: relay.handlers });
console.log(`ng ${server.address().port}`);
process.once('SIGTERM', () => {
  void server.close().then(() => {
    relay.close();
    process.exit(0);
  });
});
