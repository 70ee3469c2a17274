import { parseApiToken } from '../../store/index.js';
import { custom, integer, optional } from './kinds.js';
import { section } from './setting.js';

/** The `api` and `admin-bootstrap` modules: the per-key rate limit and the first admin key. */
export const apiSection = section({
  name: 'api',
  settings: {
    VOXGATE_API_RATE_LIMIT_PER_MINUTE: integer({
      min: 0,
      max: 1_000_000,
      zero: 'no limit',
      description: 'API requests per minute per API key, counted across replicas in shared state',
      default: 600,
    }),
    VOXGATE_ADMIN_API_KEY: optional(
      custom((token) => (parseApiToken(token) === undefined ? undefined : token), {
        type: 'text',
        expects:
          'a key of the form vxg_<id>_<secret>: id 4-32 letters or digits, secret 20-128 of [A-Za-z0-9_-]',
        description: 'platform admin API key created on an empty store; unset = generated and printed once',
        secret: true,
      }),
    ),
  },
  build: (v) => ({
    api: { rateLimitPerMinute: v.VOXGATE_API_RATE_LIMIT_PER_MINUTE },
    adminApiKey: v.VOXGATE_ADMIN_API_KEY,
  }),
});
