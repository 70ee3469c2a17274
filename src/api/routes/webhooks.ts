import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { FastifyInstance } from 'fastify';
import {
  createWebhookRepository,
  NO_WEBHOOKS,
  webhookUrlRefusal,
  type Database,
  type DeliveryState,
  type Webhook,
  type WebhookAllowList,
  type WebhookEventType,
} from '../../store/index.js';
import { sendProblem } from '../problem.js';
import {
  integer,
  pageOf,
  responses,
  tenantObjectParams,
  text,
  uuid,
  webhookDeliverySchema,
  webhookEventSchema,
  webhookSchema,
} from '../schemas.js';
import { registerTenantResource, type Refusal } from './resource-routes.js';
import { nextCursor, pageLimit } from './route-helpers.js';
import { tenantOf } from './tenant-resource.js';

export interface WebhookApiOptions {
  /** Where webhook URLs may point (`VOXGATE_WEBHOOK_ALLOW`); default: nowhere. */
  allow?: WebhookAllowList;
  /** The addresses of a host name (default: the system resolver, every address). */
  resolve?: (host: string) => Promise<readonly string[]>;
}

const systemResolve = async (host: string) => (await lookup(host, { all: true })).map((a) => a.address);

const webhookFields = {
  url: text({
    minLength: 1,
    maxLength: 2000,
    description:
      'http or https URL the events are POSTed to; its host must be allowed by the operator (VOXGATE_WEBHOOK_ALLOW)',
  }),
  events: { type: 'array', minItems: 1, maxItems: 20, uniqueItems: true, items: webhookEventSchema },
  secret: {
    ...text({
      minLength: 16,
      maxLength: 200,
      description: 'the signing secret; generated (and returned once) when not given',
    }),
    writeOnly: true,
  },
  enabled: { type: 'boolean' },
} as const;

interface WebhookBody {
  url: string;
  events: WebhookEventType[];
  secret?: string;
  enabled?: boolean;
}

/** A new signing secret: 192 random bits. */
const newSecret = () => `whsec_${randomBytes(24).toString('base64url')}`;

/**
 * `/v1/tenants/{tenantId}/webhooks`: the tenant's webhook subscriptions (changed by admin keys: a webhook sends
 * the tenant's calls and registrations out of the platform), and `…/{id}/deliveries`, their delivery log.
 * The secret is returned only by the POST that created the webhook (generated unless given); a PATCH may set
 * a new one. URLs are http(s) to hosts `VOXGATE_WEBHOOK_ALLOW` allows (refused with a validation problem
 * otherwise); the worker checks the address again at each connection.
 */
export function registerWebhookRoutes(
  app: FastifyInstance,
  deps: { db: Database; webhooks?: WebhookApiOptions },
): void {
  const allow = deps.webhooks?.allow ?? NO_WEBHOOKS;
  const resolve = deps.webhooks?.resolve ?? systemResolve;
  const urlRefused = async (url: string | undefined): Promise<Refusal | undefined> => {
    if (url === undefined) return undefined;
    const detail = await webhookUrlRefusal(url, allow, resolve);
    return detail === undefined ? undefined : ['validation-failed', detail];
  };

  registerTenantResource<Webhook, WebhookBody, Partial<WebhookBody>, { after?: string }>(app, deps.db, {
    path: 'webhooks',
    tag: 'webhooks',
    entity: 'webhook',
    noun: 'webhook',
    role: 'admin',
    schemas: {
      item: webhookSchema,
      create: {
        type: 'object',
        additionalProperties: false,
        required: ['url', 'events'],
        properties: webhookFields,
      },
      update: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: webhookFields,
      },
      query: {
        type: 'object',
        additionalProperties: false,
        properties: {
          limit: integer({ minimum: 1, maximum: 500, description: 'items per page (default 50)' }),
          after: { ...uuid, description: 'the nextCursor of the previous page' },
        },
      },
    },
    summaries: {
      create: 'Create a webhook (admin); the response is the only one with its secret',
      list: 'List webhooks, oldest first',
      get: 'Get a webhook (without its secret)',
      update: 'Change a webhook (admin); secret sets a new signing secret',
      delete: 'Delete a webhook (admin) and its delivery log',
    },
    list: (db, tenant, { limit, query }) =>
      createWebhookRepository(db).list(tenant.id, { limit, after: query.after }),
    get: (db, tenant, id) => createWebhookRepository(db).get(tenant.id, id),
    create: (tx, tenant, body) =>
      createWebhookRepository(tx).create({
        tenantId: tenant.id,
        url: body.url,
        events: body.events,
        secret: body.secret ?? newSecret(),
        ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
      }),
    update: (tx, tenant, id, body) => createWebhookRepository(tx).update(tenant.id, id, body),
    remove: (tx, tenant, id) => createWebhookRepository(tx).delete(tenant.id, id),
    cursor: (w) => w.id,
    refuse: (body) => urlRefused(body.url),
    audit: {
      // The secret is masked (`****`) by the audit trail; written says a PATCH set a new one.
      written: (body, action) => (action === 'update' && body.secret ? { secret: body.secret } : {}),
    },
  });

  app.get<{
    Params: { tenantId: string; id: string };
    Querystring: { limit?: number; after?: string; state?: DeliveryState };
  }>(
    '/tenants/:tenantId/webhooks/:id/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: "A webhook's delivery log, newest first",
        params: tenantObjectParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: integer({ minimum: 1, maximum: 500, description: 'items per page (default 50)' }),
            after: { ...uuid, description: 'the nextCursor of the previous page' },
            state: { enum: ['pending', 'delivered', 'failed'] },
          },
        },
        response: responses({ 200: pageOf(webhookDeliverySchema) }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const hooks = createWebhookRepository(deps.db);
      const { id } = request.params;
      if (!(await hooks.get(tenant.id, id))) return sendProblem(reply, 'not-found', `no webhook ${id}`);
      const limit = pageLimit(request.query.limit);
      const items = await hooks.deliveries(tenant.id, id, {
        limit,
        ...(request.query.after ? { after: request.query.after } : {}),
        ...(request.query.state ? { state: request.query.state } : {}),
      });
      return { items, nextCursor: nextCursor(items, limit, (d) => d.id) };
    },
  );
}
