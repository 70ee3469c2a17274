import { NO_WEBHOOKS, parseWebhookAllow } from '../../store/index.js';
import { custom, integer, optional } from './kinds.js';
import { section } from './setting.js';

/** Webhooks: where the API lets tenants point them (`api`), how the `worker` delivers them. */
export const webhooksSection = section({
  name: 'webhooks',
  settings: {
    VOXGATE_WEBHOOK_ALLOW: optional(
      custom(parseWebhookAllow, {
        type: 'list',
        expects:
          'a comma list of host names (hooks.example.com), name suffixes (.example.com), IP addresses or CIDRs ' +
          '(203.0.113.0/24), or public (any address outside private, loopback, link-local and other special ranges)',
        description:
          'where webhook URLs may point; unset = nowhere (no webhook can be created), so tenants cannot make the ' +
          "worker send requests into the platform's own network",
      }),
    ),
    VOXGATE_WEBHOOK_TIMEOUT_SECONDS: integer({
      min: 1,
      max: 60,
      unit: 'seconds',
      description: 'how long the worker waits for a webhook receiver to answer one delivery',
      default: 5,
    }),
    VOXGATE_WEBHOOK_CONCURRENCY: integer({
      min: 1,
      max: 100,
      description:
        'deliveries in flight at once to one webhook, per worker: a slow receiver holds at most this many',
      default: 4,
    }),
    VOXGATE_WEBHOOK_RETRY_HOURS: integer({
      min: 1,
      max: 168,
      unit: 'hours',
      description: 'how long a delivery is retried (exponential backoff) before it is given up as failed',
      default: 24,
    }),
    VOXGATE_WEBHOOK_LOG_RETENTION_DAYS: integer({
      min: 1,
      max: 3650,
      unit: 'days',
      description: 'how long finished deliveries stay in the delivery log before the worker purges them',
      default: 30,
    }),
  },
  build: (v) => ({
    webhooks: {
      allow: v.VOXGATE_WEBHOOK_ALLOW ?? NO_WEBHOOKS,
      timeoutMs: v.VOXGATE_WEBHOOK_TIMEOUT_SECONDS * 1000,
      concurrency: v.VOXGATE_WEBHOOK_CONCURRENCY,
      retryForMs: v.VOXGATE_WEBHOOK_RETRY_HOURS * 3_600_000,
      logRetentionDays: v.VOXGATE_WEBHOOK_LOG_RETENTION_DAYS,
    },
  }),
});
