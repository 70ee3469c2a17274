import { integer, optional, url } from './kinds.js';
import { section } from './setting.js';

/** The `store` module: PostgreSQL, or PGlite in the data folder. */
export const storeSection = section({
  name: 'store',
  settings: {
    VOXGATE_DATABASE_URL: optional(
      url(['postgres', 'postgresql'], {
        description: 'PostgreSQL; unset = embedded PGlite in VOXGATE_DATA_DIR',
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
