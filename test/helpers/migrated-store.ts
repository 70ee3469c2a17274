import {
  createTenantRepository,
  migrate,
  type Database,
  type Tenant,
  type TenantRepository,
} from '../../src/store/index.js';
import { MIGRATIONS_DIR, type Backend } from './store-backends.js';

/** Runs `body` on a fresh, migrated database of `backend`; closes and removes it after, whatever happens. */
export async function withMigratedStore(
  backend: Backend,
  body: (db: Database) => Promise<void>,
): Promise<void> {
  const { db, cleanup } = await backend.open();
  try {
    await migrate(db, MIGRATIONS_DIR);
    await body(db);
  } finally {
    await db.close();
    await cleanup();
  }
}

/** Tenants Acme (acme.example) and Other (other.example): one to act in, one that must not see it. */
export async function acmeAndOther(
  db: Database,
): Promise<{ tenants: TenantRepository; acme: Tenant; other: Tenant }> {
  const tenants = createTenantRepository(db);
  const acme = await tenants.create({ name: 'Acme', sipDomain: 'acme.example' });
  const other = await tenants.create({ name: 'Other', sipDomain: 'other.example' });
  return { tenants, acme, other };
}
