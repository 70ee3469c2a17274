import type { ServerFactory } from './scenario.js';
import { startVoxgate } from './voxgate-server.js';

/**
 * The servers every client is tried against, the reference first: a check that fails there is the client's
 * (reported, never counted as voxgate's success); one that passes there must pass on voxgate. With
 * `kamailioOnVoxgateRelay`, a third: the reference's Kamailio and configuration driving voxgate's media relay
 * (`voxgate --target=media-relay`) in RTPengine's place, named 'kamailio+voxgate-relay'.
 */
export async function servers(options: { kamailioOnVoxgateRelay?: boolean } = {}): Promise<ServerFactory[]> {
  const { startReference } = await import('./reference-server.js');
  return [
    { name: 'reference', start: () => startReference() },
    { name: 'voxgate', start: () => startVoxgate() },
    ...(options.kamailioOnVoxgateRelay
      ? [{ name: 'kamailio+voxgate-relay' as const, start: () => startReference({ relay: 'voxgate' }) }]
      : []),
  ];
}
