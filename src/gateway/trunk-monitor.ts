import { buildRequest, formatHost, isTransportFailure, newTag } from '../sip/index.js';
import type { LegTarget, SipOutbound } from './sip-outbound.js';
import type { TrunkLocator } from './trunk-locator.js';
import { mintCallId } from './call-id-owner.js';

export interface MonitoredTrunk {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp' | 'tls';
}

export interface TrunkMonitor {
  /** False while the trunk's last OPTIONS went unanswered: routes skip it. */
  isUp(trunkId: string): boolean;
  /** One round of checks now (the timer calls it every interval). */
  checkAll(): Promise<void>;
  readonly down: ReadonlySet<string>;
  stop(): void;
}

/**
 * OPTIONS health checks of the carriers' trunks. Any response — 200, but also 404 or 405 from a carrier that
 * does not serve OPTIONS — proves the trunk is reachable; a check that times out (Timer F) or cannot be sent (a
 * refused connection) takes the trunk out of routing until a later check is answered. Each gateway replica
 * checks on its own: what matters is whether this replica can reach the carrier. A gateway of several SIP workers checks once, from its first worker; the
 * others route by that worker's reports (`trunk-status-follower.ts`).
 */
export function createTrunkMonitor(deps: {
  trunks: () => Promise<readonly MonitoredTrunk[]>;
  outbound: SipOutbound;
  /** Where a trunk's requests go (RFC 3263, `trunk-locator.ts`); default: its host and port as written. */
  locate?: TrunkLocator;
  intervalMs: number;
  onChange?: (trunkId: string, up: boolean) => void;
  /** After every check, its outcome (the gateway shares it in shared state for the API). */
  onChecked?: (trunkId: string, up: boolean, at: number) => void;
}): TrunkMonitor {
  const down = new Set<string>();
  const inFlight = new Set<string>();
  /** One OPTIONS to one of the trunk's addresses: whether anything answered it. */
  const ask = (trunk: MonitoredTrunk, target: LegTarget): Promise<boolean> => {
    const { host, port } = deps.outbound.address(trunk.transport);
    const hostPart = formatHost(trunk.host);
    const bytes = buildRequest('OPTIONS', `sip:${hostPart}:${trunk.port}`, [
      { name: 'Via', value: deps.outbound.via(trunk.transport) },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `<sip:healthcheck@${host}:${port}>;tag=${newTag()}` },
      { name: 'To', value: `<sip:${hostPart}:${trunk.port}>` },
      { name: 'Call-ID', value: mintCallId(10) },
      { name: 'CSeq', value: '1 OPTIONS' },
    ]);
    return new Promise<boolean>((resolve) => {
      try {
        deps.outbound.request(bytes, target, {
          // §8.1.3.1: a transport failure (a refused TCP or TLS connection, an ICMP error) reaches the TU as a
          // 503 the transaction made itself; it says the carrier could not be reached, not that it answered.
          response: (response) => resolve(!isTransportFailure(response)),
          timeout: () => resolve(false),
        });
      } catch {
        resolve(false); // no route to the carrier's transport (e.g. TLS not configured)
      }
    });
  };
  /**
   * A trunk is up when one of its addresses answers, asked in their RFC 3263 order (§4.3: on a failure "the
   * next SHOULD be tried").
   */
  const check = async (trunk: MonitoredTrunk): Promise<void> => {
    const targets = deps.locate
      ? await deps.locate(trunk)
      : [{ transport: trunk.transport, address: trunk.host, port: trunk.port }];
    let up = false;
    for (const target of targets) {
      up = await ask(trunk, target);
      if (up) break;
    }
    const was = !down.has(trunk.id);
    if (up) down.delete(trunk.id);
    else down.add(trunk.id);
    if (was !== up) deps.onChange?.(trunk.id, up);
    deps.onChecked?.(trunk.id, up, Date.now());
  };
  const checkAll = async () => {
    const trunks = await deps.trunks();
    const known = new Set(trunks.map((t) => t.id));
    for (const id of down) if (!known.has(id)) down.delete(id); // deleted or disabled since
    await Promise.all(
      trunks
        .filter((t) => !inFlight.has(t.id))
        .map(async (t) => {
          inFlight.add(t.id);
          try {
            await check(t);
          } finally {
            inFlight.delete(t.id);
          }
        }),
    );
  };
  const timer = setInterval(() => void checkAll().catch(() => undefined), deps.intervalMs);
  timer.unref();
  return {
    isUp: (id) => !down.has(id),
    checkAll,
    down,
    stop: () => clearInterval(timer),
  };
}
