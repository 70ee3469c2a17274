/**
 * The provisioning change contract between the API (which publishes after a change commits) and the gateways
 * (which drop what they cached from the store). One entry per successful mutation of a tenant, SIP user,
 * trunk, number or route, on the shared event stream `PROVISIONING_CHANGES_STREAM`. Gateways read it in a
 * consumer group of their own, so every replica sees every change.
 */
export const PROVISIONING_CHANGES_STREAM = 'voxgate:provisioning-changes';

export interface ProvisioningChange {
  /** The API route template that changed something, e.g. `/v1/tenants/:tenantId/trunks/:trunkId`. */
  route: string;
  method: string;
  /** Empty for a change outside a tenant. */
  tenantId: string;
  at: number;
}

export function encodeProvisioningChange(change: ProvisioningChange): Record<string, string> {
  return {
    route: change.route,
    method: change.method,
    tenantId: change.tenantId,
    at: String(change.at),
  };
}
