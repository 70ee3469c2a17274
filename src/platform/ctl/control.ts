import type { CtlContext } from './listings.js';
import { printable } from './printable.js';
import { tenantPath, type LiveCall, type Tenant } from './resources.js';
import { resolveTenant } from './tenant-scope.js';

const tenantRef = ({ id, name, sipDomain }: Tenant) => ({ id, name, sipDomain });

/**
 * `voxgate ctl hangup <callId>`: ends a live call through the API (DELETE …/calls/live/{callId}); the gateway
 * replica holding it sends the BYEs (or the CANCEL and 487 while it rings), so the call is being ended, not
 * necessarily over, when this returns.
 */
export async function hangupCall(
  ctx: CtlContext,
  options: { tenant?: string; callId: string },
): Promise<void> {
  const tenant = await resolveTenant(ctx.api, options.tenant);
  const call = await ctx.api.delete<LiveCall>(
    tenantPath(tenant, `/calls/live/${encodeURIComponent(options.callId)}`),
  );
  if (ctx.json) return ctx.out(JSON.stringify({ tenant: tenantRef(tenant), call }, null, 2));
  const about = call ? ` (${printable(call.from)} → ${printable(call.to)}, ${call.state})` : '';
  ctx.out(`ending call ${printable(options.callId)}${about}`);
}

/** The SIP domain of an AOR (`sip:alice@acme.example` → `acme.example`), if it names one. */
function domainOf(aor: string): string | undefined {
  const at = aor.lastIndexOf('@');
  const domain = at < 0 ? '' : aor.slice(at + 1).split(/[;:>]/)[0];
  return domain ? domain : undefined;
}

/**
 * `voxgate ctl kick <aor> [--contact <uri>]`: removes the AOR's registered contacts (or only `contact`) through
 * the API; calls no longer go to them until the phone registers again. Without --tenant, the tenant is the one
 * whose SIP domain the AOR names.
 */
export async function kickRegistration(
  ctx: CtlContext,
  options: { tenant?: string; aor: string; contact?: string },
): Promise<void> {
  const tenant = await resolveTenant(ctx.api, options.tenant ?? domainOf(options.aor));
  await ctx.api.delete(tenantPath(tenant, `/registrations/${encodeURIComponent(options.aor)}`), {
    contact: options.contact,
  });
  if (ctx.json) {
    return ctx.out(
      JSON.stringify(
        { tenant: tenantRef(tenant), aor: options.aor, contact: options.contact ?? null, removed: true },
        null,
        2,
      ),
    );
  }
  ctx.out(
    options.contact === undefined
      ? `removed every registration of ${printable(options.aor)}`
      : `removed the registration of ${printable(options.aor)} at ${printable(options.contact)}`,
  );
}
