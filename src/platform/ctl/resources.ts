import type { ApiClient, Query } from './api-client.js';

/*
 * What `voxgate ctl` reads from the provisioning API, as its OpenAPI document (/openapi.json) describes the
 * answers: only the members the commands use are typed; `--json` passes the items on as the API gave them.
 */

export interface Whoami {
  keyId: string;
  name: string;
  role: 'admin' | 'operator' | 'viewer';
  /** null for a platform key. */
  tenantId: string | null;
}

export interface Tenant {
  id: string;
  name: string;
  sipDomain: string;
  status?: string;
}

export interface Registration {
  aor: string;
  contact: string;
  expiresInSeconds: number;
  source: string;
  transport: string;
  userAgent: string | null;
  gateway: string | null;
}

export interface LiveCall {
  callId: string;
  tenantId: string;
  from: string;
  to: string;
  state: 'setup' | 'ringing' | 'answered' | 'ending';
  startedAt: string;
  answeredAt: string | null;
  gateway?: string;
}

export interface Cdr {
  callId: string;
  tenantId?: string;
  direction: string;
  from: string;
  to: string;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string;
  durationSeconds: number;
  disposition: string;
  sipCode: number | null;
  hangupBy: string | null;
  reason: string | null;
}

export interface TrunkHealth {
  state: 'up' | 'down' | 'unknown';
  gateways: { gateway: string; reachable: boolean; checkedAt: string }[];
}

export interface Trunk {
  id: string;
  name: string;
  host: string;
  port: number;
  transport: string;
  enabled: boolean;
  health?: TrunkHealth;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The largest page the API gives (`limit` 1..500). */
export const MAX_PAGE = 500;

/**
 * Items of a paged list, following `nextCursor` until the end or `max` items (then `nextCursor` is where the
 * next page would start, else null).
 */
export async function listPages<T>(
  api: ApiClient,
  path: string,
  query: Query = {},
  max = Number.POSITIVE_INFINITY,
): Promise<Page<T>> {
  const items: T[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await api.get<Page<T>>(path, {
      ...query,
      limit: Math.min(MAX_PAGE, max - items.length),
      after,
    });
    items.push(...page.items);
    if (!page.nextCursor || items.length >= max) return { items, nextCursor: page.nextCursor };
    after = page.nextCursor;
  }
}

/** Every tenant the key sees, by SIP domain (the API lists them by id). */
export async function listTenantsByDomain(api: ApiClient): Promise<Tenant[]> {
  const { items } = await listPages<Tenant>(api, '/v1/tenants');
  return items.sort((a, b) => a.sipDomain.localeCompare(b.sipDomain));
}

export const tenantPath = (tenant: Tenant, rest: string) =>
  `/v1/tenants/${encodeURIComponent(tenant.id)}${rest}`;
