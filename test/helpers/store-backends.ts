import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Database } from '../../src/store/index.js';
import { createScratchDatabase, postgresAvailable } from './postgres.js';

export const MIGRATIONS_DIR = join(import.meta.dirname, '..', '..', 'migrations');
/** Built by `npm run build`; without it PGlite runs initdb for each new database (slower, same result). */
const PGLITE_TEMPLATE = join(import.meta.dirname, '..', '..', 'dist', 'pglite-template.tar.gz');

export interface Backend {
  name: string;
  skip: string | false;
  /** A fresh, empty database of this kind and a cleanup function. */
  open(): Promise<{ db: Database; reopen: () => Promise<Database>; cleanup: () => Promise<void> }>;
}

/** Every store backend the contract suites run against: PGlite on disk, PGlite in memory, real PostgreSQL. */
export async function storeBackends(): Promise<Backend[]> {
  const pgUp = await postgresAvailable();
  return [
    {
      name: 'PGlite (data directory)',
      skip: false,
      async open() {
        const dir = await mkdtemp(join(tmpdir(), 'voxgate-pglite-'));
        const db = await openDatabase({ dataDir: dir, pgliteTemplate: PGLITE_TEMPLATE });
        return {
          db,
          reopen: () => openDatabase({ dataDir: dir, pgliteTemplate: PGLITE_TEMPLATE }),
          cleanup: () => rm(dir, { recursive: true, force: true }),
        };
      },
    },
    {
      name: 'PGlite (memory://)',
      skip: false,
      async open() {
        const db = await openDatabase({ dataDir: 'memory://', pgliteTemplate: PGLITE_TEMPLATE });
        return { db, reopen: async () => db, cleanup: async () => undefined };
      },
    },
    {
      name: 'PostgreSQL',
      skip: pgUp ? false : 'PostgreSQL not reachable (set VOXGATE_TEST_DATABASE_URL)',
      async open() {
        const scratch = await createScratchDatabase();
        const db = await openDatabase({ url: scratch.url, dataDir: 'unused', poolSize: 4 });
        return {
          db,
          reopen: () => openDatabase({ url: scratch.url, dataDir: 'unused', poolSize: 4 }),
          cleanup: scratch.drop,
        };
      },
    },
  ];
}
