import { parsePostgresUrl } from '../../store/index.js';
import { custom, integer, optional } from './kinds.js';
import { section } from './setting.js';

/**
 * A PostgreSQL URL: one server as `URL` reads it (what was always accepted), or libpq's syntax with several
 * servers and target_session_attrs (src/store/database/postgres-url.ts).
 */
function databaseUrl(raw: string): string | undefined {
  try {
    parsePostgresUrl(raw);
    return raw;
  } catch {
    try {
      const { protocol, host } = new URL(raw);
      return ['postgres:', 'postgresql:'].includes(protocol) && !host.includes(',') ? raw : undefined;
    } catch {
      return undefined;
    }
  }
}

/** The `store` module: PostgreSQL, or PGlite in the data folder. */
export const storeSection = section({
  name: 'store',
  settings: {
    VOXGATE_DATABASE_URL: optional(
      custom(databaseUrl, {
        type: 'url',
        expects:
          'a postgres:// or postgresql:// URL; several servers as postgres://user@h1:5432,h2:5432/db' +
          '?target_session_attrs=read-write (libpq syntax; also any, read-only, primary, standby, prefer-standby)',
        description:
          'PostgreSQL; a primary and its standbys as h1:port,h2:port with target_session_attrs=read-write: the ' +
          'store uses the writable one and moves to a promoted standby by itself; unset = embedded PGlite in ' +
          'VOXGATE_DATA_DIR',
        secret: true,
      }),
    ),
    VOXGATE_DATABASE_POOL_SIZE: integer({
      min: 1,
      max: 200,
      description: 'PostgreSQL connections per process',
      default: 10,
    }),
  },
  build: (v) => ({ database: { url: v.VOXGATE_DATABASE_URL, poolSize: v.VOXGATE_DATABASE_POOL_SIZE } }),
});
