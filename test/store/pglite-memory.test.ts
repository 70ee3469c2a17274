import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/store/index.js';
import { PGLITE_SHARED_BUFFERS } from '../../src/store/database/pglite-database.js';

// The embedded store's buffer pool is what most of the all-in-one's RSS at rest was (docs/performance.md,
// footprint): PGlite must start with the smaller pool, in a folder as in memory, and keep working with it.
for (const where of ['folder', 'memory'] as const) {
  test(`PGlite in ${where} runs with shared_buffers ${PGLITE_SHARED_BUFFERS}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'voxgate-pglite-'));
    const db = await openDatabase({ dataDir: where === 'memory' ? 'memory://' : dir });
    try {
      const { rows } = await db.query<{ shared_buffers: string }>('SHOW shared_buffers');
      assert.equal(rows[0]?.shared_buffers, PGLITE_SHARED_BUFFERS);
      // More rows than the pool holds pages: written and read back through the files.
      await db.exec('CREATE TABLE big (id int PRIMARY KEY, pad text)');
      await db.query(
        `INSERT INTO big SELECT g, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 60) i)
         FROM generate_series(1, 12000) g`,
      );
      const { rows: count } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM big');
      assert.equal(count[0]?.n, '12000');
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
}
