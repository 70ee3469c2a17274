import type { ApiClient } from './api-client.js';
import {
  listPages,
  listTenantsByDomain,
  tenantPath,
  type Cdr,
  type LiveCall,
  type Registration,
  type Tenant,
  type Trunk,
} from './resources.js';
import { formatDuration, formatTable, type Column } from './table.js';
import { resolveTenant } from './tenant-scope.js';

/** What a command needs: the API, where its output goes, and whether scripts read it (`--json`). */
export interface CtlContext {
  api: ApiClient;
  out: (line: string) => void;
  json: boolean;
  /** The clock (epoch ms) live durations are measured with. */
  now: () => number;
}

/** The tenant a document is about, in `--json` output. */
const tenantRef = ({ id, name, sipDomain }: Tenant) => ({ id, name, sipDomain });

/** A table for people, or one line saying there is nothing to show. */
function show<Row>(
  ctx: CtlContext,
  columns: readonly Column<Row>[],
  rows: readonly Row[],
  none: string,
): void {
  if (rows.length === 0) return ctx.out(none);
  for (const line of formatTable(columns, rows)) ctx.out(line);
}

const printJson = (ctx: CtlContext, doc: unknown) => ctx.out(JSON.stringify(doc, null, 2));

/** `voxgate ctl tenants`: every tenant the key sees (a tenant key: its own). */
export async function listTenants(ctx: CtlContext): Promise<void> {
  const items = await listTenantsByDomain(ctx.api);
  if (ctx.json) return printJson(ctx, { items });
  show(
    ctx,
    [
      { heading: 'ID', cell: (t: Tenant) => t.id },
      { heading: 'NAME', cell: (t) => t.name },
      { heading: 'SIP DOMAIN', cell: (t) => t.sipDomain },
    ],
    items,
    'no tenants',
  );
}

/** `voxgate ctl registrations`: the registered contacts of the tenant's users now. */
export async function listRegistrations(ctx: CtlContext, options: { tenant?: string }): Promise<void> {
  const tenant = await resolveTenant(ctx.api, options.tenant);
  const { items } = await ctx.api.get<{ items: Registration[] }>(tenantPath(tenant, '/registrations'));
  items.sort((a, b) => a.aor.localeCompare(b.aor) || a.contact.localeCompare(b.contact));
  if (ctx.json) return printJson(ctx, { tenant: tenantRef(tenant), items });
  show(
    ctx,
    [
      { heading: 'AOR', cell: (r: Registration) => r.aor },
      { heading: 'CONTACT', cell: (r) => r.contact },
      { heading: 'TRANSPORT', cell: (r) => r.transport },
      { heading: 'SOURCE', cell: (r) => r.source },
      { heading: 'EXPIRES', cell: (r) => `${r.expiresInSeconds}s` },
    ],
    items,
    `no registrations in ${tenant.sipDomain}`,
  );
}

/** Seconds since an ISO instant, by the given clock. */
const secondsSince = (iso: string, now: number) => Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));

/**
 * `voxgate ctl calls`: calls in progress now; the duration counts from the start of the call (`elapsedSeconds`
 * in `--json`: a CDR's `durationSeconds` counts from the answer).
 */
export async function listLiveCalls(ctx: CtlContext, options: { tenant?: string }): Promise<void> {
  const tenant = await resolveTenant(ctx.api, options.tenant);
  const { items } = await ctx.api.get<{ items: LiveCall[] }>(tenantPath(tenant, '/calls/live'));
  const now = ctx.now();
  const calls = items
    .map((call) => ({ ...call, elapsedSeconds: secondsSince(call.startedAt, now) }))
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.callId.localeCompare(b.callId));
  if (ctx.json) return printJson(ctx, { tenant: tenantRef(tenant), items: calls });
  show(
    ctx,
    [
      { heading: 'CALL ID', cell: (c: (typeof calls)[number]) => c.callId },
      { heading: 'FROM', cell: (c) => c.from },
      { heading: 'TO', cell: (c) => c.to },
      { heading: 'STATE', cell: (c) => c.state },
      { heading: 'STARTED', cell: (c) => c.startedAt },
      { heading: 'DURATION', cell: (c) => formatDuration(c.elapsedSeconds) },
    ],
    calls,
    `no live calls in ${tenant.sipDomain}`,
  );
}

export interface CdrOptions {
  tenant?: string;
  limit: number;
  since?: string;
  until?: string;
  disposition?: string;
  party?: string;
}

/** The columns of a CDR, for `cdrs` (and, without the heading, the lines of `tail`). */
export const cdrColumns: readonly Column<Cdr>[] = [
  { heading: 'STARTED', cell: (c) => c.startedAt },
  { heading: 'CALL ID', cell: (c) => c.callId },
  { heading: 'DIRECTION', cell: (c) => c.direction },
  { heading: 'FROM', cell: (c) => c.from },
  { heading: 'TO', cell: (c) => c.to },
  { heading: 'DISPOSITION', cell: (c) => c.disposition },
  { heading: 'CODE', cell: (c) => (c.sipCode === null ? '-' : String(c.sipCode)) },
  { heading: 'DURATION', cell: (c) => formatDuration(c.durationSeconds) },
];

/** `voxgate ctl cdrs`: the newest CDRs (ended calls), filtered as the API filters them. */
export async function listCdrs(ctx: CtlContext, options: CdrOptions): Promise<void> {
  const tenant = await resolveTenant(ctx.api, options.tenant);
  const { limit, since, until, disposition, party } = options;
  const page = await listPages<Cdr>(
    ctx.api,
    tenantPath(tenant, '/calls'),
    { since, until, disposition, party },
    limit,
  );
  if (ctx.json) return printJson(ctx, { tenant: tenantRef(tenant), ...page });
  show(
    ctx,
    cdrColumns,
    page.items,
    `no CDRs in ${tenant.sipDomain}${since || until || disposition || party ? ' matching the filters' : ''}`,
  );
}

/** The most recent health check of a trunk by any gateway, or undefined when none reports. */
const lastCheck = (trunk: Trunk) =>
  trunk.health?.gateways
    .map((g) => g.checkedAt)
    .sort()
    .at(-1);

/** `voxgate ctl trunks`: the tenant's carriers with their health as the gateways last reported it. */
export async function listTrunks(ctx: CtlContext, options: { tenant?: string }): Promise<void> {
  const tenant = await resolveTenant(ctx.api, options.tenant);
  const { items } = await listPages<Trunk>(ctx.api, tenantPath(tenant, '/trunks'));
  if (ctx.json) return printJson(ctx, { tenant: tenantRef(tenant), items });
  show(
    ctx,
    [
      { heading: 'NAME', cell: (t: Trunk) => t.name },
      { heading: 'HOST', cell: (t) => `${t.transport}:${t.host}:${t.port}` },
      { heading: 'ENABLED', cell: (t) => (t.enabled ? 'yes' : 'no') },
      { heading: 'HEALTH', cell: (t) => t.health?.state ?? 'unknown' },
      { heading: 'LAST CHECK', cell: (t) => lastCheck(t) ?? '-' },
    ],
    items,
    `no trunks in ${tenant.sipDomain}`,
  );
}
