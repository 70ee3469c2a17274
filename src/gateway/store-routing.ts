import {
  createNumberRepository,
  createRouteRepository,
  createTrunkRepository,
  type Queryable,
  type TrunkWithSecret,
} from '../store/index.js';
import type { GatewayTrunk, RoutingDirectory } from './call-routing.js';

function toGatewayTrunk(t: TrunkWithSecret): GatewayTrunk {
  return {
    id: t.id,
    tenantId: t.tenantId,
    host: t.host,
    port: t.port,
    transport: t.transport,
    maxConcurrentCalls: t.maxConcurrentCalls,
    mediaEncryption: t.mediaEncryption,
    ...(t.username && t.password ? { credentials: { username: t.username, password: t.password } } : {}),
  };
}

/** The routing directory over the store's trunk, number and route repositories. */
export function createStoreRoutingDirectory(db: Queryable): RoutingDirectory {
  const trunks = createTrunkRepository(db);
  const numbers = createNumberRepository(db);
  const routes = createRouteRepository(db);
  return {
    async trunkBySource(address) {
      const trunk = await trunks.findBySource(address);
      return trunk && toGatewayTrunk(trunk);
    },
    async trunkByUsername(username) {
      const trunk = await trunks.findByUsername(username);
      return trunk && toGatewayTrunk(trunk);
    },
    async numberOwner(e164) {
      const owner = await numbers.findByE164(e164);
      return owner && { tenantId: owner.tenantId, username: owner.username, sipDomain: owner.sipDomain };
    },
    allTrunks: () => trunks.listAllEnabled(),
    async registeringTrunks() {
      return (await trunks.listRegistering()).flatMap((t) =>
        t.username && t.password
          ? [
              {
                id: t.id,
                host: t.host,
                port: t.port,
                transport: t.transport,
                credentials: { username: t.username, password: t.password },
              },
            ]
          : [],
      );
    },
    async routes(tenantId) {
      const list = await routes.listForTenant(tenantId);
      const used = [...new Set(list.flatMap((r) => r.trunkIds))];
      const byId = new Map(
        (await trunks.withSecrets(tenantId, used)).filter((t) => t.enabled).map((t) => [t.id, t]),
      );
      return list.map((r) => ({
        pattern: r.pattern,
        stripDigits: r.stripDigits,
        prefix: r.prefix,
        mediaBypass: r.mediaBypass,
        mediaEncryption: r.mediaEncryption,
        recording: r.recording,
        trunks: r.trunkIds.flatMap((id) => {
          const t = byId.get(id);
          return t ? [toGatewayTrunk(t)] : [];
        }),
      }));
    },
  };
}
