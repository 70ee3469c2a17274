import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the contract tests use; a fresh database is created on it per suite. */
export const POSTGRES_BASE_URL =
  process.env.VOXGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Whether the real PostgreSQL answers. In CI its absence is a failure (the contract must be proven against
 * the real server), locally the suites skip with a message.
 */
export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_BASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch (err) {
    if (process.env.CI)
      throw new Error(`PostgreSQL is required in CI and is not reachable at ${POSTGRES_BASE_URL}`, {
        cause: err,
      });
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates an empty database and returns its URL and a function that drops it. */
export async function createScratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `voxgate_test_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_BASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_BASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_BASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
