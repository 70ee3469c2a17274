import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database, Queryable } from '../database/database.js';
import { StoreError } from '../store-error.js';

/** Arbitrary constant naming the advisory lock that serializes migrators (replicas starting together). */
const MIGRATION_LOCK = 0x6d696772; // "migr"

interface MigrationFile {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

/** `NNNN_name.sql` files of `dir`, in version order. */
export async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const sql = await readFile(join(dir, file), 'utf8');
      return {
        version: file.slice(0, 4),
        name: file.slice(5, -4),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    }),
  );
}

async function lockAndEnsureTable(tx: Queryable): Promise<Map<string, string>> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
  await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const { rows } = await tx.query<{ version: string; checksum: string }>(
    'SELECT version, checksum FROM schema_migrations',
  );
  return new Map(rows.map((r) => [r.version, r.checksum]));
}

/**
 * Applies the pending migrations of `dir` in order, each in its own transaction under an advisory lock, and
 * records them in `schema_migrations`. An applied migration whose file changed since is an error: schema
 * history is append-only.
 */
export async function migrate(db: Database, dir: string): Promise<{ applied: string[] }> {
  const migrations = await readMigrations(dir);
  const applied: string[] = [];
  for (const m of migrations) {
    const label = `${m.version}_${m.name}`;
    await db.transaction(async (tx) => {
      const done = await lockAndEnsureTable(tx);
      const recorded = done.get(m.version);
      if (recorded === m.checksum) return;
      if (recorded !== undefined) {
        throw new StoreError(
          'STORE_MIGRATION_CHANGED',
          `migration ${label} was applied with another content (checksum ${recorded.slice(0, 12)}…); add a new migration instead of editing it`,
        );
      }
      try {
        await tx.exec(m.sql);
      } catch (err) {
        throw new StoreError(
          'STORE_MIGRATION_FAILED',
          `migration ${label} failed: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        m.checksum,
      ]);
      applied.push(label);
    });
  }
  return { applied };
}

/** Migrations of `dir` not yet applied (readiness). */
export async function pendingMigrations(db: Queryable, dir: string): Promise<string[]> {
  const migrations = await readMigrations(dir);
  const exists = await db.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (!exists.rows[0]?.t) return migrations.map((m) => `${m.version}_${m.name}`);
  const { rows } = await db.query<{ version: string }>('SELECT version FROM schema_migrations');
  const done = new Set(rows.map((r) => r.version));
  return migrations.filter((m) => !done.has(m.version)).map((m) => `${m.version}_${m.name}`);
}
