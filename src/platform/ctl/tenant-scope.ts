import { CtlError, EXIT_USAGE, type ApiClient } from './api-client.js';
import { printable } from './printable.js';
import { listTenantsByDomain, type Tenant, type Whoami } from './resources.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How many SIP domains an ambiguous choice names before "…". */
const NAMED = 5;

/**
 * The tenant a tenant command works on: `--tenant` as a tenant id or SIP domain; without it the key's own
 * tenant (a tenant key, as /v1/whoami says), or the only tenant a platform key sees.
 */
export async function resolveTenant(api: ApiClient, given: string | undefined): Promise<Tenant> {
  if (given !== undefined) {
    if (UUID.test(given)) return api.get<Tenant>(`/v1/tenants/${encodeURIComponent(given)}`);
    const wanted = given.toLowerCase();
    const items = await listTenantsByDomain(api);
    const found = items.find((t) => t.sipDomain.toLowerCase() === wanted);
    if (!found) {
      throw new CtlError(
        `no tenant has the id or SIP domain ${printable(given)} ('voxgate ctl tenants' lists them)`,
      );
    }
    return found;
  }
  const me = await api.get<Whoami>('/v1/whoami');
  if (me.tenantId !== null) return api.get<Tenant>(`/v1/tenants/${encodeURIComponent(me.tenantId)}`);
  const items = await listTenantsByDomain(api);
  const [only, ...others] = items;
  if (!only) throw new CtlError('there is no tenant yet: create one with POST /v1/tenants');
  if (others.length === 0) return only;
  const named = items.slice(0, NAMED).map((t) => printable(t.sipDomain));
  throw new CtlError(
    `${items.length} tenants: choose one with --tenant <id|sipDomain> (${named.join(', ')}` +
      `${items.length > NAMED ? ', …' : ''}; 'voxgate ctl tenants' lists them)`,
    { exitCode: EXIT_USAGE },
  );
}
