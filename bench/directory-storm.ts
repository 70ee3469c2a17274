/**
 * bench:directory-storm — what a registration storm's credential lookups cost the gateway's event loop: `--users`
 * distinct users of one realm asked of the gateway's directory cache (`src/gateway/directory-cache.ts`), `--turn`
 * of them per turn of the event loop (as a batch of datagrams read at once brings them), every one a miss — phones
 * re-registering after a restart, or the cache's entries loaded together expiring together. Two ways, in the same
 * run, alternating over `--rounds`:
 *   - `batched`: the cache as shipped, a realm's missing users gathered into queries of many (`batched-lookup.ts`,
 *     `findCredentialsOf`);
 *   - `one query each`: the same cache given a source that runs one `findCredentials` query per user, as the
 *     cache did before.
 * On the stores the gateway runs on: PostgreSQL (a scratch database; VOXGATE_TEST_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres) and the embedded PGlite (`npm start`'s default; its queries run
 * on its own thread, whose CPU is this process's too). Reported: the process's CPU (user + system) and the wall
 * time until every lookup answered, and the queries made.
 * Usage: npm run bench:directory-storm [-- --users=10000 --turn=50 --rounds=2 --stores=postgres,pglite]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDirectoryCache, createStoreRoutingDirectory } from '../src/gateway/index.js';
import {
  createSipUserRepository,
  createTenantRepository,
  migrate,
  openDatabase,
  type Database,
  type SipCredentials,
  type SipUserRepository,
} from '../src/store/index.js';
import { fmt, withScratchDatabase } from './support.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '10000' },
    turn: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '2' },
    stores: { type: 'string', default: 'postgres,pglite' },
  },
});
const users = Number(values.users);
const turn = Number(values.turn);
const rounds = Number(values.rounds);
const ROOT = join(import.meta.dirname, '..');
const REALM = 'storm.example';

interface Row {
  store: string;
  way: string;
  cpuMs: number;
  wallMs: number;
  queries: number;
}

/** The users' credentials source of each way, counting its queries. */
function sourceOf(repo: SipUserRepository, way: 'batched' | 'one query each', count: () => void) {
  return {
    digestAlgorithms: repo.digestAlgorithms,
    findCredentialsOf:
      way === 'batched'
        ? (realm: string, names: readonly string[]) => {
            count();
            return repo.findCredentialsOf(realm, names);
          }
        : async (realm: string, names: readonly string[]) => {
            const found = new Map<string, SipCredentials>();
            await Promise.all(
              names.map(async (name) => {
                count();
                const credentials = await repo.findCredentials(realm, name);
                if (credentials) found.set(name, credentials);
              }),
            );
            return found;
          },
  };
}

async function storm(db: Database, store: string, way: 'batched' | 'one query each'): Promise<Row> {
  let queries = 0;
  const cache = createDirectoryCache(
    {
      routing: createStoreRoutingDirectory(db),
      tenants: createTenantRepository(db),
      users: sourceOf(createSipUserRepository(db), way, () => (queries += 1)),
    },
    { ttlMs: 60_000, maxEntries: users * 2 },
  );
  const cpu = process.cpuUsage();
  const started = performance.now();
  const lookups: Promise<unknown>[] = [];
  for (let first = 0; first < users; first += turn) {
    for (let i = first; i < Math.min(users, first + turn); i++)
      lookups.push(cache.users.findCredentials(REALM, `u${i}`));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const found = (await Promise.all(lookups)).filter(Boolean).length;
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  if (found !== users) throw new Error(`${store}, ${way}: ${found} of ${users} users found`);
  return { store, way, cpuMs: (used.user + used.system) / 1000, wallMs, queries };
}

async function run(db: Database, store: string): Promise<Row[]> {
  await migrate(db, join(ROOT, 'migrations'));
  const tenant = await createTenantRepository(db).create({ name: 'Storm', sipDomain: REALM });
  await db.query(
    `INSERT INTO sip_users (tenant_id, username, ha1_md5, ha1_sha256)
     SELECT $1, 'u' || (g - 1), md5('p' || g), encode(sha256(('p' || g)::bytea), 'hex')
       FROM generate_series(1, $2::int) g`,
    [tenant.id, users],
  );
  const rows: Row[] = [];
  for (let round = 0; round < rounds; round++)
    for (const way of ['one query each', 'batched'] as const) {
      const row = await storm(db, store, way);
      console.error(
        `bench:directory-storm: ${store}, ${way}: ${fmt(row.cpuMs, 0)} ms CPU, ${fmt(row.wallMs, 0)} ms, ${row.queries} queries`,
      );
      rows.push(row);
    }
  return rows;
}

const rows: Row[] = [];
for (const store of values.stores.split(',')) {
  if (store === 'postgres') {
    rows.push(
      ...(await withScratchDatabase('storm', async (url) => {
        const db = await openDatabase({ url, dataDir: 'unused' });
        try {
          return await run(db, 'PostgreSQL');
        } finally {
          await db.close();
        }
      })),
    );
  } else if (store === 'pglite') {
    const db = await openDatabase({
      dataDir: 'memory://',
      pgliteTemplate: join(ROOT, 'dist', 'pglite-template.tar.gz'),
    });
    try {
      rows.push(...(await run(db, 'PGlite (embedded)')));
    } finally {
      await db.close();
    }
  } else {
    console.error(`bench:directory-storm: --stores takes postgres and pglite, not ${store}`);
    process.exit(2);
  }
}
console.log(
  `\n${users} users' credentials, ${turn} asked per turn of the event loop, every one a miss of the directory cache\n`,
);
console.log('| store | lookups | CPU ms | wall ms | queries |');
console.log('|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.store} | ${r.way} | ${fmt(r.cpuMs, 0)} | ${fmt(r.wallMs, 0)} | ${r.queries} |`);
