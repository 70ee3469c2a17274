import { dgramSockets, relaySockets, type RelaySockets } from '../../src/media/index.js';
import { udpBatchSockets } from '../../src/sip/index.js';

/**
 * The relay's socket implementations a data-plane test runs on: Node's dgram, and the native batched sockets
 * where the addon is built (`npm run build` builds it), as the relay takes them (`relaySockets`: packets lent to
 * the handler). Under CI a missing addon is an error, not a skip: the relay's default there is native, so its
 * tests must run on it.
 */
export function relaySocketKinds(): RelaySockets[] {
  const native = udpBatchSockets();
  if (native instanceof Error) {
    if (process.env.CI) throw native;
    return [dgramSockets];
  }
  return [dgramSockets, relaySockets('native').sockets];
}
