import { createNumberRepository, createSipUserRepository } from '../../src/store/index.js';
import type { GatewayHarness, HARNESS_USERS } from './gateway-harness.js';

/** Assigns the DID `e164` to the harness user `username`, so that calls to it ring that user. */
export async function assignNumber(
  gw: GatewayHarness,
  username: keyof typeof HARNESS_USERS,
  e164: string,
): Promise<void> {
  const [user] = (await createSipUserRepository(gw.db).list(gw.tenantId, { limit: 10 })).filter(
    (u) => u.username === username,
  );
  await createNumberRepository(gw.db).create({ tenantId: gw.tenantId, e164, userId: user!.id });
}
