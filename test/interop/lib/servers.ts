import type { ServerFactory } from './scenario.js';
import { startVoxgate } from './voxgate-server.js';

/**
 * The servers every client is tried against, the reference first: a check that fails there is the client's
 * (reported, never counted as voxgate's success); one that passes there must pass on voxgate.
 */
export async function servers(): Promise<ServerFactory[]> {
  const { startReference } = await import('./reference-server.js');
  return [
    { name: 'reference', start: startReference },
    { name: 'voxgate', start: () => startVoxgate() },
  ];
}
