import { buildRequest, formatHostPort, newTag, type SendFailure } from '../sip/index.js';
import type { Binding, RegistrationStore } from '../store/shared-state/index.js';
import { publishRegistration } from './registrar.js';
import { bindingTarget, type SipOutbound } from './sip-outbound.js';
import { mintCallId } from './call-id-owner.js';

/** How long a CRLF ping waits to learn that its flow could not carry it. */
const FLOW_FAILURE_WAIT_MS = 2000;

export interface BindingKeepalive {
  /** A binding this replica accepted: it is pinged from now on. */
  track(aor: string, binding: Binding): void;
  /** A binding removed by its UA. */
  untrack(aor: string, contact: string): void;
  /**
   * Tracks the bindings shared state holds for this replica (`self`): those accepted before a restart. Done
   * once, by the first round if not called before; resolves with how many are tracked.
   */
  restore(): Promise<number>;
  /** One round of pings now (the timer calls it every interval). */
  pingAll(): Promise<void>;
  readonly tracked: number;
  stop(): void;
}

export const keepaliveKey = (aor: string, contact: string): string => `${aor}\u0000${contact}`;

/**
 * Keeps NATed registrations reachable and drops dead ones. Every interval, each binding accepted by this
 * replica is pinged where it registered from: an OPTIONS over UDP (any response proves the pinhole is open and
 * refreshes it; Timer F without one means the UA is gone), a CRLF keepalive on TCP/TLS flows (RFC 5626
 * §4.4.1; a flow that has closed means the UA is gone). A gone UA's binding is removed from shared state, so
 * calls stop ringing a contact that cannot answer. A binding is pinged where calls to it go (`bindingTarget`):
 * its source for a UA behind NAT, its Contact otherwise. The tracked set starts from shared state (`restore`),
 * so the bindings a replica accepted before a restart are still kept alive; a tracked binding found gone after
 * its expiry is reported `expired`, one dropped here `unregistered`.
 */
export function createBindingKeepalive(deps: {
  registrations: Pick<RegistrationStore, 'list' | 'remove' | 'listByGateway'>;
  outbound: SipOutbound;
  intervalMs: number;
  /** This replica's address as bindings record it: bindings taken over by another replica are not ours. */
  self: () => string;
}): BindingKeepalive {
  const tracked = new Map<string, { aor: string; binding: Binding }>();
  /** Pings still waiting for an answer (a UDP ping may wait for Timer F, longer than an interval). */
  const inFlight = new Set<string>();
  const drop = async (aor: string, binding: Binding, why: string) => {
    tracked.delete(keepaliveKey(aor, binding.contact));
    await deps.registrations.remove(aor, binding.contact);
    publishRegistration({ ...describe(aor, binding), kind: 'unregistered', reason: why });
  };
  const describe = (aor: string, b: Binding) => ({
    aor,
    contact: b.contact,
    tenantId: b.tenantId,
    source: formatHostPort(b.source.address, b.source.port),
    transport: b.transport,
    ...(b.userAgent ? { userAgent: b.userAgent } : {}),
    ...(b.reach ? { reach: b.reach } : {}),
  });
  let restoring: Promise<number> | undefined;
  const restore = (): Promise<number> => {
    restoring ??= deps.registrations.listByGateway(deps.self()).then(
      (entries) => {
        for (const { aor, binding } of entries) {
          const key = keepaliveKey(aor, binding.contact);
          if (!tracked.has(key)) tracked.set(key, { aor, binding });
        }
        return entries.length;
      },
      (err: unknown) => {
        restoring = undefined; // shared state unreachable: the next round tries again
        throw err;
      },
    );
    return restoring;
  };
  const ping = async (aor: string, binding: Binding): Promise<void> => {
    const key = keepaliveKey(aor, binding.contact);
    const current = (await deps.registrations.list(aor)).find((b) => b.contact === binding.contact);
    if (!current || (current.gateway && current.gateway !== deps.self())) {
      tracked.delete(key); // expired, removed, or now registered through another replica
      if (!current && binding.expiresAt <= Date.now()) {
        publishRegistration({ ...describe(aor, binding), kind: 'expired' });
      }
      return;
    }
    // RFC 7118 clients keep their WebSocket alive with WebSocket pings; a CRLF is not a message they expect.
    if (current.transport === 'ws' || current.transport === 'wss') return;
    const target = bindingTarget(current);
    if (target.transport !== 'udp') {
      // A flow that has closed (or cannot be opened again) is a binding no longer reachable.
      const failure = await new Promise<SendFailure | undefined>((resolve) => {
        deps.outbound.send(Buffer.from('\r\n\r\n'), target, resolve);
        // A connection that has not failed within this time is taken as up.
        setTimeout(() => resolve(undefined), FLOW_FAILURE_WAIT_MS).unref();
      });
      if (failure) await drop(aor, current, 'flow closed');
      return;
    }
    const { host, port } = deps.outbound.address('udp');
    const bytes = buildRequest('OPTIONS', current.contact, [
      { name: 'Via', value: deps.outbound.via('udp') },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `<sip:keepalive@${host}:${port}>;tag=${newTag()}` },
      { name: 'To', value: `<${aor}>` },
      { name: 'Call-ID', value: mintCallId(10) },
      { name: 'CSeq', value: '1 OPTIONS' },
    ]);
    await new Promise<void>((resolve) => {
      deps.outbound.request(bytes, target, {
        // Any response, even 404 or 405, comes from the UA through its NAT: it is alive.
        response: () => resolve(),
        timeout: () => drop(aor, current, 'no response to OPTIONS').then(resolve, resolve),
      });
    });
  };
  const pingAll = async () => {
    await restore().catch(() => undefined);
    await Promise.all(
      [...tracked.entries()]
        .filter(([key]) => !inFlight.has(key))
        .map(async ([key, { aor, binding }]) => {
          inFlight.add(key);
          try {
            await ping(aor, binding);
          } catch {
            // shared state unreachable: try again next round
          } finally {
            inFlight.delete(key);
          }
        }),
    );
  };
  const timer = setInterval(() => pingAll().catch(() => undefined), deps.intervalMs);
  timer.unref();
  return {
    track(aor, binding) {
      tracked.set(keepaliveKey(aor, binding.contact), { aor, binding });
    },
    untrack(aor, contact) {
      tracked.delete(keepaliveKey(aor, contact));
    },
    restore,
    pingAll,
    get tracked() {
      return tracked.size;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
