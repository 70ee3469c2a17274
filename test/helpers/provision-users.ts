import { computeHa1 } from '../../src/sip/index.js';
import { createSipUserRepository, createTenantRepository, openDatabase } from '../../src/store/index.js';

/**
 * A tenant with SIP domain `domain` and its users (username → password, HA1 for MD5 and SHA-256), written to the
 * database at `url` — what gateway processes under test read. Returns the tenant's id.
 */
export async function provisionUsers(
  url: string,
  tenant: { name: string; domain: string },
  users: Readonly<Record<string, string>>,
): Promise<string> {
  const store = await openDatabase({ url, dataDir: 'unused' });
  try {
    const created = await createTenantRepository(store).create({
      name: tenant.name,
      sipDomain: tenant.domain,
    });
    for (const [username, password] of Object.entries(users)) {
      await createSipUserRepository(store).create({
        tenantId: created.id,
        username,
        ha1Md5: computeHa1('MD5', username, tenant.domain, password),
        ha1Sha256: computeHa1('SHA-256', username, tenant.domain, password),
      });
    }
    return created.id;
  } finally {
    await store.close();
  }
}
