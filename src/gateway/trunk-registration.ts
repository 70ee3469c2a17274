import { channel } from 'node:diagnostics_channel';
import {
  answerChallenge,
  buildRequest,
  formatHost,
  contactsOf,
  header,
  headerValues,
  newTag,
  paramValue,
  type SipResponse,
} from '../sip/index.js';
import type { Counters } from '../store/shared-state/index.js';
import type { LegTarget, SipOutbound } from './sip-outbound.js';
import type { TrunkLocator } from './trunk-locator.js';
import { mintCallId } from './call-id-owner.js';

/** A carrier trunk with `register` set: voxgate registers to it as `username` (RFC 3261 §10.2). */
export interface RegisteringTrunk {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly credentials: { readonly username: string; readonly password: string };
}

export type TrunkRegistrationState = 'registered' | 'failed' | 'unregistered';

/** Published on `trunkRegistrationChannel` at each outcome of a REGISTER sent to a carrier. */
export interface TrunkRegistrationEvent {
  readonly trunkId: string;
  readonly state: TrunkRegistrationState;
  /** The final status code, or 408 for a transaction timeout. */
  readonly code: number;
  /** The expiration the carrier granted, for `registered`. */
  readonly expires?: number;
}

export const trunkRegistrationChannel = channel('voxgate:gateway:trunk-registration');

export interface TrunkRegistrar {
  /** This replica's view of a trunk's registration (undefined: never sent from here). */
  status(trunkId: string): { state: TrunkRegistrationState; code: number; expiresAt?: number } | undefined;
  /** Re-reads the trunks now: new ones are registered, removed ones unregistered (the timer does it too). */
  sync(): Promise<void>;
  stop(): void;
}

interface Entry {
  trunk: RegisteringTrunk;
  /** §10.2: "the same Call-ID for all registrations during a single boot cycle". */
  readonly callId: string;
  readonly fromTag: string;
  cseq: number;
  expires: number;
  timer?: NodeJS.Timeout;
  state?: TrunkRegistrationState;
  code: number;
  expiresAt?: number;
  inFlight: boolean;
}

/** A trunk host in a URI (an IPv6 address bracketed). */
const hostPart = formatHost;

/**
 * Outbound registration to carriers: each trunk with `register` set gets a REGISTER with its credentials,
 * refreshed before the granted expiration. Several gateway replicas share the work through a counter window
 * in shared state: in each refresh window only the replica that counts first sends the refresh, so a carrier
 * sees one registration flow, not one per replica (the contact is the advertised address, which replicas
 * behind one load balancer share); a replica that has not registered a trunk yet and finds the window counted
 * registers it once itself after the retry interval. With several SIP workers only the first runs a registrar.
 * Stopping a replica does not unregister: the others keep refreshing; a trunk whose `register` flag is cleared
 * or that is deleted is unregistered (expires=0) by the replica that last registered it.
 */
export function createTrunkRegistrar(deps: {
  trunks: () => Promise<readonly RegisteringTrunk[]>;
  outbound: SipOutbound;
  /** Where a trunk's requests go (RFC 3263, `trunk-locator.ts`); default: its host and port as written. */
  locate?: TrunkLocator;
  counters: Pick<Counters, 'hit'>;
  /** The expiration asked for (the carrier may grant less, or demand more with 423). */
  expiresSec: number;
  /** How often the trunk list is re-read. */
  syncMs: number;
  /** Wait before a failed registration is tried again. */
  retryMs: number;
  onChange?: (event: TrunkRegistrationEvent) => void;
}): TrunkRegistrar {
  const entries = new Map<string, Entry>();
  let stopped = false;

  const publish = (entry: Entry, state: TrunkRegistrationState, code: number) => {
    const changed = entry.state !== state;
    entry.state = state;
    entry.code = code;
    const event: TrunkRegistrationEvent = {
      trunkId: entry.trunk.id,
      state,
      code,
      ...(state === 'registered' ? { expires: entry.expires } : {}),
    };
    if (trunkRegistrationChannel.hasSubscribers) trunkRegistrationChannel.publish(event);
    if (changed) deps.onChange?.(event);
  };

  /** A refresh window: a third of the expiration, so a missed window still leaves the binding alive. */
  const windowSec = (entry: Entry) => Math.max(1, Math.floor(entry.expires / 3));

  const schedule = (entry: Entry, ms: number, task: () => void) => {
    clearTimeout(entry.timer);
    if (stopped) return;
    entry.timer = setTimeout(task, ms);
    entry.timer.unref();
  };

  const sendRegisterTo = (
    entry: Entry,
    expires: number,
    target: LegTarget,
    authorization?: { name: string; value: string },
  ) => {
    const { trunk } = entry;
    const { host, port } = deps.outbound.address(trunk.transport);
    const aor = `sip:${trunk.credentials.username}@${hostPart(trunk.host)}`;
    const transportParam = trunk.transport === 'udp' ? '' : `;transport=${trunk.transport}`;
    const contactScheme = trunk.transport === 'tls' ? 'sips' : 'sip';
    const requestUri = `sip:${hostPart(trunk.host)}:${trunk.port}${transportParam}`;
    entry.cseq += 1;
    const bytes = buildRequest('REGISTER', requestUri, [
      { name: 'Via', value: deps.outbound.via(trunk.transport) },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `<${aor}>;tag=${entry.fromTag}` },
      { name: 'To', value: `<${aor}>` },
      { name: 'Call-ID', value: entry.callId },
      { name: 'CSeq', value: `${entry.cseq} REGISTER` },
      {
        name: 'Contact',
        value: `<${contactScheme}:${trunk.credentials.username}@${hostPart(host)}:${port}${transportParam}>`,
      },
      { name: 'Expires', value: String(expires) },
      ...(authorization ? [authorization] : []),
    ]);
    return new Promise<SipResponse | undefined>((resolve) => {
      try {
        deps.outbound.request(bytes, target, {
          response: (response) => {
            if (response.status >= 200) resolve(response);
          },
          timeout: () => resolve(undefined),
        });
      } catch {
        resolve(undefined); // no listener for the trunk's transport (e.g. TLS not configured)
      }
    });
  };

  /**
   * A REGISTER to the carrier's addresses in their RFC 3263 order, the next one after a timeout or a 503 (§4.3:
   * "If an attempt should fail … the next SHOULD be tried"); the last answer, or undefined when none came.
   */
  const sendRegister = async (
    entry: Entry,
    expires: number,
    authorization?: { name: string; value: string },
  ): Promise<SipResponse | undefined> => {
    const { trunk } = entry;
    const targets = deps.locate
      ? await deps.locate(trunk)
      : [{ transport: trunk.transport, address: trunk.host, port: trunk.port }];
    let response: SipResponse | undefined;
    for (const target of targets) {
      response = await sendRegisterTo(entry, expires, target, authorization);
      if (response && response.status !== 503) return response;
    }
    return response;
  };

  /** The expiration the registrar granted our contact (§10.2.4): its `expires` parameter, else Expires. */
  const grantedExpires = (entry: Entry, response: SipResponse, requested: number): number => {
    const contacts = contactsOf(response);
    const own = contacts === '*' ? [] : contacts;
    const { host, port } = deps.outbound.address(entry.trunk.transport);
    const ours = own.find((c) => c.uriText.includes(`@${hostPart(host)}:${port}`)) ?? own[0];
    const fromParam = ours ? Number(paramValue(ours.params, 'expires')) : NaN;
    if (Number.isInteger(fromParam) && fromParam > 0) return fromParam;
    const fromHeader = Number(header(response, 'Expires'));
    return Number.isInteger(fromHeader) && fromHeader > 0 ? fromHeader : requested;
  };

  /** One registration (or un-registration) with its challenge and 423 rounds. */
  const register = async (entry: Entry, expires: number): Promise<number> => {
    let response = await sendRegister(entry, expires);
    let uses = 0;
    let minExpiresTried = false;
    for (;;) {
      if (!response) return 408;
      const status = response.status;
      if ((status === 401 || status === 407) && uses < 2) {
        // §22.2: "the client SHOULD retry the request" with credentials; a second challenge is only answered
        // when it says the nonce was stale (RFC 2617 §3.2.1), otherwise the credentials are wrong.
        const challenges = headerValues(response, status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate');
        if (uses === 1 && !challenges.some((c) => /stale\s*=\s*"?true/i.test(c))) return status;
        const trunk = entry.trunk;
        const answer = answerChallenge({
          challenges,
          method: 'REGISTER',
          uri: `sip:${hostPart(trunk.host)}:${trunk.port}${trunk.transport === 'udp' ? '' : `;transport=${trunk.transport}`}`,
          username: trunk.credentials.username,
          password: trunk.credentials.password,
        });
        if (!answer) return status;
        uses += 1;
        response = await sendRegister(entry, expires, {
          name: status === 407 ? 'Proxy-Authorization' : 'Authorization',
          value: answer.authorization,
        });
        continue;
      }
      if (status === 423 && !minExpiresTried && expires > 0) {
        // §10.2.8: "the client MAY retry the registration with an expiration interval ... greater than or equal
        // to the one in the Min-Expires header field".
        const min = Number(header(response, 'Min-Expires'));
        if (!Number.isInteger(min) || min <= expires) return status;
        minExpiresTried = true;
        entry.expires = min;
        expires = min;
        response = await sendRegister(entry, expires);
        continue;
      }
      if (status >= 200 && status < 300 && expires > 0)
        entry.expires = grantedExpires(entry, response, expires);
      return status;
    }
  };

  const refresh = async (entry: Entry, viaWindow: boolean): Promise<void> => {
    if (stopped || entry.inFlight) return;
    const window = windowSec(entry);
    if (viaWindow) {
      const count = await deps.counters.hit(`trunk-register:${entry.trunk.id}`, window).catch(() => 1); // shared state down: register from here rather than let the binding lapse
      if (count > 1) {
        // Another replica sent in this window — or this one's previous boot cycle did (a restarted process, the
        // first SIP worker restarted). Until this replica has registered the trunk itself, it knows neither the
        // expiration the carrier granted nor its own status: a window sized on what it asks for may outlast the
        // binding counted, so it registers itself after the retry interval instead of a window later.
        if (entry.state === undefined) schedule(entry, deps.retryMs, () => attempt(entry, false));
        else schedule(entry, window * 1000, () => attempt(entry, true));
        return;
      }
    }
    entry.inFlight = true;
    let code: number;
    try {
      code = await register(entry, entry.expires);
    } finally {
      entry.inFlight = false;
    }
    if (stopped || !entries.has(entry.trunk.id)) return;
    if (code >= 200 && code < 300) {
      entry.expiresAt = Date.now() + entry.expires * 1000;
      publish(entry, 'registered', code);
      schedule(entry, windowSec(entry) * 1000, () => attempt(entry, true));
    } else {
      entry.expiresAt = undefined;
      publish(entry, 'failed', code);
      schedule(entry, deps.retryMs, () => attempt(entry, false));
    }
  };

  // A refresh that throws counts as a failed one, retried later: never an unhandled rejection.
  const attempt = (entry: Entry, viaWindow: boolean): void => {
    refresh(entry, viaWindow).catch(() => {
      if (stopped || !entries.has(entry.trunk.id)) return;
      entry.expiresAt = undefined;
      publish(entry, 'failed', 500);
      schedule(entry, deps.retryMs, () => attempt(entry, false));
    });
  };

  const unregister = async (entry: Entry) => {
    clearTimeout(entry.timer);
    entries.delete(entry.trunk.id);
    if (entry.state !== 'registered') return;
    // §10.2.2: "a UA requests the immediate removal of a binding by specifying an expiration interval of "0"".
    const code = await register(entry, 0);
    entry.expiresAt = undefined;
    publish(entry, 'unregistered', code);
  };

  const sync = async () => {
    const trunks = await deps.trunks();
    const seen = new Set<string>();
    for (const trunk of trunks) {
      seen.add(trunk.id);
      const known = entries.get(trunk.id);
      if (known) {
        const moved =
          known.trunk.host !== trunk.host ||
          known.trunk.port !== trunk.port ||
          known.trunk.transport !== trunk.transport ||
          known.trunk.credentials.username !== trunk.credentials.username ||
          known.trunk.credentials.password !== trunk.credentials.password;
        known.trunk = trunk;
        if (moved) attempt(known, false);
        continue;
      }
      const entry: Entry = {
        trunk,
        callId: mintCallId(12),
        fromTag: newTag(),
        cseq: 0,
        expires: deps.expiresSec,
        code: 0,
        inFlight: false,
      };
      entries.set(trunk.id, entry);
      attempt(entry, true);
    }
    await Promise.all([...entries.values()].filter((e) => !seen.has(e.trunk.id)).map(unregister));
  };

  const timer = setInterval(() => sync().catch(() => undefined), deps.syncMs);
  timer.unref();
  sync().catch(() => undefined);

  return {
    status(trunkId) {
      const e = entries.get(trunkId);
      if (!e?.state) return undefined;
      return { state: e.state, code: e.code, ...(e.expiresAt ? { expiresAt: e.expiresAt } : {}) };
    },
    sync,
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const e of entries.values()) clearTimeout(e.timer);
    },
  };
}
