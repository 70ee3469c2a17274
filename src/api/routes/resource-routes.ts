import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyRole, Database, Queryable, Tenant } from '../../store/index.js';
import { recordMutation } from '../audit-trail.js';
import { requireRole } from '../authorize.js';
import { sendProblem, type ProblemType } from '../problem.js';
import { pageOf, pageQuery, responses, tenantObjectParams, tenantParams } from '../schemas.js';
import { nextCursor, pageLimit } from './route-helpers.js';
import { tenantOf } from './tenant-resource.js';

/** A client error found by a resource's own rule: the problem type and its detail. */
export type Refusal = readonly [ProblemType, string];

export interface PageRequest<Q> {
  readonly limit: number;
  readonly query: Q;
}

/**
 * One resource under `/v1/tenants/{tenantId}/<path>`: what differs between users, trunks, numbers and routes.
 * The routes made from it share everything else: the tenant scope (404 outside it), the role for changes
 * (403), the change and its audit entry in one transaction, 201 with Location, 404 naming the id, 204 on
 * delete, cursor pages. Changes are announced on the provisioning change stream by the /v1 scope's hook.
 */
export interface TenantResource<T extends { id: string }, Create, Patch, Query extends { after?: string }> {
  readonly path: string;
  readonly tag: string;
  /** The audit log's entity name. */
  readonly entity: string;
  /** The noun of "no <noun> <id>". */
  readonly noun: string;
  /** The role a key needs to change the resource; reading needs none beyond the tenant scope. */
  readonly role: ApiKeyRole;
  readonly schemas: {
    readonly item: object;
    readonly create: object;
    readonly update: object;
    readonly query?: object;
  };
  readonly summaries: Readonly<Record<'create' | 'list' | 'get' | 'update' | 'delete', string>>;
  list(db: Queryable, tenant: Tenant, page: PageRequest<Query>): Promise<readonly T[] | Refusal>;
  get(db: Queryable, tenant: Tenant, id: string): Promise<T | undefined>;
  create(tx: Queryable, tenant: Tenant, body: Create): Promise<T>;
  update(
    tx: Queryable,
    tenant: Tenant,
    id: string,
    body: Patch,
  ): Promise<{ before: T; after: T } | undefined>;
  remove(tx: Queryable, tenant: Tenant, id: string): Promise<T | undefined>;
  /** The `after` of the next page, from the last item. */
  cursor(item: T): string;
  /** A rule of the body that the schema cannot say (a pattern that must compile). */
  refuse?(body: Create | Patch): Refusal | undefined;
  /** A database error the client caused (a duplicate name), as a problem instead of a 500. */
  failure?(err: unknown, body: Create | Patch): Refusal | undefined;
  /** What the API shows of items: as read (lists and gets) or as just written. Default: as stored. */
  show?(items: readonly T[], tenant: Tenant, use: 'read' | 'written'): unknown[] | Promise<unknown[]>;
  /** What the audit log keeps of an item (default: as stored), and what a body wrote besides (a password). */
  audit?: {
    view?(item: T): object;
    written?(body: Create | Patch, action: 'create' | 'update'): Record<string, unknown>;
  };
}

/** Registers list, get, create, update and delete of one tenant resource. */
export function registerTenantResource<
  T extends { id: string },
  Create,
  Patch,
  Query extends { after?: string },
>(app: FastifyInstance, db: Database, r: TenantResource<T, Create, Patch, Query>): void {
  const collection = `/tenants/:tenantId/${r.path}`;
  const member = `${collection}/:id`;
  const view = (item: T): object => r.audit?.view?.(item) ?? item;
  const written = (body: Create | Patch, action: 'create' | 'update') =>
    r.audit?.written?.(body, action) ?? {};
  const showOne = async (item: T, tenant: Tenant, use: 'read' | 'written') =>
    r.show ? (await r.show([item], tenant, use))[0] : item;
  const notFound = (id: string) => `no ${r.noun} ${id}`;
  const options = (
    operation: keyof TenantResource<T, Create, Patch, Query>['summaries'],
    params: object,
    response: Record<number, unknown>,
    request: { body?: object; querystring?: object } = {},
  ) => ({
    schema: {
      tags: [r.tag],
      summary: r.summaries[operation],
      params,
      ...request,
      response: responses(response),
    },
  });
  /** The tenant when the key may change this resource and the body passes its rules; else answered. */
  const changing = async (
    request: FastifyRequest<{ Params: { tenantId: string } }>,
    reply: FastifyReply,
    body?: Create | Patch,
  ): Promise<Tenant | undefined> => {
    const tenant = await tenantOf(db, request, reply);
    if (!tenant || !requireRole(request, reply, r.role)) return undefined;
    const refused = body === undefined ? undefined : r.refuse?.(body);
    if (refused) return void sendProblem(reply, ...refused);
    return tenant;
  };
  const refusalOf = (err: unknown, body: Create | Patch) => {
    const refusal = r.failure?.(err, body);
    if (!refusal) throw err;
    return refusal;
  };

  app.post<{ Params: { tenantId: string } }>(
    collection,
    options('create', tenantParams, { 201: r.schemas.item }, { body: r.schemas.create }),
    async (request, reply) => {
      const body = request.body as Create; // validated by schemas.create
      const tenant = await changing(request, reply, body);
      if (!tenant) return reply;
      let created: T;
      try {
        created = await db.transaction(async (tx) => {
          const item = await r.create(tx, tenant, body);
          await recordMutation(tx, request, {
            tenantId: tenant.id,
            action: 'create',
            entity: r.entity,
            entityId: item.id,
            after: { ...view(item), ...written(body, 'create') },
          });
          return item;
        });
      } catch (err) {
        return sendProblem(reply, ...refusalOf(err, body));
      }
      return reply
        .code(201)
        .header('location', `/v1/tenants/${tenant.id}/${r.path}/${created.id}`)
        .send(await showOne(created, tenant, 'written'));
    },
  );

  app.get<{ Params: { tenantId: string } }>(
    collection,
    options(
      'list',
      tenantParams,
      { 200: pageOf(r.schemas.item) },
      { querystring: r.schemas.query ?? pageQuery },
    ),
    async (request, reply) => {
      const tenant = await tenantOf(db, request, reply);
      if (!tenant) return reply;
      const query = request.query as Query & { limit?: number }; // validated by schemas.query
      const limit = pageLimit(query.limit);
      const items = await r.list(db, tenant, { limit, query });
      if (isRefusal(items)) return sendProblem(reply, ...items);
      return {
        items: r.show ? await r.show(items, tenant, 'read') : items,
        nextCursor: nextCursor(items, limit, r.cursor),
      };
    },
  );

  app.get<{ Params: { tenantId: string; id: string } }>(
    member,
    options('get', tenantObjectParams, { 200: r.schemas.item }),
    async (request, reply) => {
      const tenant = await tenantOf(db, request, reply);
      if (!tenant) return reply;
      const item = await r.get(db, tenant, request.params.id);
      return item
        ? showOne(item, tenant, 'read')
        : sendProblem(reply, 'not-found', notFound(request.params.id));
    },
  );

  app.patch<{ Params: { tenantId: string; id: string } }>(
    member,
    options('update', tenantObjectParams, { 200: r.schemas.item }, { body: r.schemas.update }),
    async (request, reply) => {
      const body = request.body as Patch; // validated by schemas.update
      const tenant = await changing(request, reply, body);
      if (!tenant) return reply;
      const { id } = request.params;
      let changed: { before: T; after: T } | undefined;
      try {
        changed = await db.transaction(async (tx) => {
          const result = await r.update(tx, tenant, id, body);
          if (result) {
            await recordMutation(tx, request, {
              tenantId: tenant.id,
              action: 'update',
              entity: r.entity,
              entityId: id,
              before: view(result.before),
              after: { ...view(result.after), ...written(body, 'update') },
            });
          }
          return result;
        });
      } catch (err) {
        return sendProblem(reply, ...refusalOf(err, body));
      }
      return changed
        ? showOne(changed.after, tenant, 'written')
        : sendProblem(reply, 'not-found', notFound(id));
    },
  );

  app.delete<{ Params: { tenantId: string; id: string } }>(
    member,
    options('delete', tenantObjectParams, { 204: { type: 'null' } }),
    async (request, reply) => {
      const tenant = await changing(request, reply);
      if (!tenant) return reply;
      const deleted = await db.transaction(async (tx) => {
        const item = await r.remove(tx, tenant, request.params.id);
        if (item) {
          await recordMutation(tx, request, {
            tenantId: tenant.id,
            action: 'delete',
            entity: r.entity,
            entityId: item.id,
            before: view(item),
          });
        }
        return item;
      });
      if (!deleted) return sendProblem(reply, 'not-found', notFound(request.params.id));
      return reply.code(204).send();
    },
  );
}

/** Items are objects; a refusal is a pair of strings. */
function isRefusal<T extends object>(value: readonly T[] | Refusal): value is Refusal {
  return typeof value[0] === 'string';
}
