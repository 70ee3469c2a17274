/**
 * Where a callee's 3xx may take a call (§8.1.3.4): only to targets the caller's own tenant could dial — a
 * registered user of the tenant, or a number through its routes — never to the host a Contact names.
 */
import { fromOf, parseSipUri, SipParseError, uriUser, type SipRequest, type SipUri } from '../sip/index.js';
import type { ForkMode, ForkTarget } from './b2bua-call.js';
import { contactsOf, routeNumber, type PlanningDeps } from './call-planning.js';
import { normalizeNumber } from './call-routing.js';

/** A sip/sips URI parsed, or undefined when the text is not one. */
function sipUriOf(text: string): SipUri | undefined {
  try {
    return parseSipUri(text);
  } catch (err) {
    if (err instanceof SipParseError) return undefined;
    throw err;
  }
}

/**
 * Where a redirect (3xx Contact URIs, tried in order) may take a call: a registered user of the caller's
 * tenant (`user@<tenant domain>`), or a number through the tenant's routes and trunks. Never the host a
 * Contact names: following a peer to an arbitrary address would make the gateway an open relay there.
 */
export async function redirectTargets(
  deps: PlanningDeps,
  tenant: { id: string; sipDomain: string },
  uris: readonly string[],
  request: SipRequest,
): Promise<{ targets: ForkTarget[]; mode: ForkMode } | undefined> {
  for (const text of uris) {
    const uri = sipUriOf(text);
    const user = uri?.user;
    if (!uri || user === undefined) continue;
    if (uri.host.toLowerCase() === tenant.sipDomain) {
      const creds = await deps.users.findCredentials(tenant.sipDomain, user);
      const aor = `sip:${user}@${tenant.sipDomain}`;
      const bindings = creds?.enabled ? await deps.state.registrations.list(aor) : [];
      if (bindings.length > 0) return { targets: contactsOf(deps, bindings, aor), mode: 'parallel' };
    }
    const number = normalizeNumber(user);
    if (!/^\+?\d+$/.test(number)) continue;
    const callerUser = uriUser(fromOf(request)?.uriText ?? '') ?? 'anonymous';
    const { forks } = await routeNumber(deps, tenant.id, number, { user: callerUser });
    if (forks.length > 0) return { targets: forks, mode: 'sequential' };
  }
  return undefined;
}
