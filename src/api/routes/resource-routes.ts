import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyRole, Database, Queryable, Tenant } from '../../store/index.js';
import { recordMutation } from '../audit-trail.js';
import { inTenantScope, requirePlatformKey, requireRole } from '../authorize.js';
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

type Params = Record<string, string>;

/**
 * Where a resource lives and who may see and change it. `S` is what a request resolves to and the resource's
 * calls receive: the tenant for a resource under `/tenants/{tenantId}/…` (`tenantScope`), the key's view of
 * the platform for tenants themselves (`platformScope`).
 */
export interface ResourceScope<S> {
  readonly collection: string;
  readonly member: string;
  /** The collection's path parameters; none at the top. */
  readonly collectionParams?: object;
  readonly memberParams: object;
  /** The id of the member a request names. */
  memberId(params: Params): string;
  /**
   * The scope of a request, or undefined once answered 404 (out of the key's scope looks like missing);
   * `memberId` when the request names a member.
   */
  resolve(request: FastifyRequest, reply: FastifyReply, memberId?: string): Promise<S | undefined>;
  /** Whether the key may change the resource with `role`; answered 403 when not. */
  mayChange(request: FastifyRequest, reply: FastifyReply, role: ApiKeyRole): boolean;
  /** The tenant an item's audit entry is filed under. */
  auditTenant(scope: S, item: { id: string }): string;
  /** The item's URL (the Location of a 201). */
  location(scope: S, item: { id: string }): string;
}

/**
 * One resource: what differs between tenants, users, trunks, numbers and routes. The routes made from it share
 * everything else: the scope (404 outside it), the role for changes (403), the change and its audit entry in
 * one transaction, 201 with Location, 404 naming the id, 204 on delete, cursor pages. Changes are announced
 * on the provisioning change stream by the /v1 scope's hook.
 */
export interface Resource<S, T extends { id: string }, Create, Patch, Query extends { after?: string }> {
  readonly tag: string;
  /** The audit log's entity name. */
  readonly entity: string;
  /** The noun of "no <noun> <id>". */
  readonly noun: string;
  /** The role a key needs to change the resource; reading needs none beyond the scope. */
  readonly role: ApiKeyRole;
  readonly schemas: {
    readonly item: object;
    readonly create: object;
    readonly update: object;
    readonly query?: object;
  };
  readonly summaries: Readonly<Record<'create' | 'list' | 'get' | 'update' | 'delete', string>>;
  list(db: Queryable, scope: S, page: PageRequest<Query>): Promise<readonly T[] | Refusal>;
  get(db: Queryable, scope: S, id: string): Promise<T | undefined>;
  create(tx: Queryable, scope: S, body: Create): Promise<T>;
  update(tx: Queryable, scope: S, id: string, body: Patch): Promise<{ before: T; after: T } | undefined>;
  remove(tx: Queryable, scope: S, id: string): Promise<T | undefined>;
  /** The `after` of the next page, from the last item. */
  cursor(item: T): string;
  /** A rule of the body that the schema cannot say (a pattern that must compile, a URL's destination). */
  refuse?(body: Create | Patch): Refusal | undefined | Promise<Refusal | undefined>;
  /** A database error the client caused (a duplicate name), as a problem instead of a 500. */
  failure?(err: unknown, body: Create | Patch): Refusal | undefined;
  /** What the API shows of items: as read (lists and gets) or as just written. Default: as stored. */
  show?(items: readonly T[], scope: S, use: 'read' | 'written'): unknown[] | Promise<unknown[]>;
  /** What the audit log keeps of an item (default: as stored), and what a body wrote besides (a password). */
  audit?: {
    view?(item: T): object;
    written?(body: Create | Patch, action: 'create' | 'update'): Record<string, unknown>;
  };
}

/** One resource under `/v1/tenants/{tenantId}/<path>`: users, trunks, numbers, routes. */
export interface TenantResource<
  T extends { id: string },
  Create,
  Patch,
  Query extends { after?: string },
> extends Resource<Tenant, T, Create, Patch, Query> {
  readonly path: string;
}

/**
 * `/tenants/{tenantId}/<path>`: the tenant in the key's scope (another tenant's is 404, as a missing one), the
 * resource's role to change it, audit entries filed under the tenant.
 */
export function tenantScope(db: Database, path: string): ResourceScope<Tenant> {
  const collection = `/tenants/:tenantId/${path}`;
  return {
    collection,
    member: `${collection}/:id`,
    collectionParams: tenantParams,
    memberParams: tenantObjectParams,
    memberId: (params) => params.id ?? '',
    resolve: (request, reply) =>
      tenantOf(db, request as FastifyRequest<{ Params: { tenantId: string } }>, reply),
    mayChange: (request, reply, role) => requireRole(request, reply, role),
    auditTenant: (tenant) => tenant.id,
    location: (tenant, item) => `/v1/tenants/${tenant.id}/${path}/${item.id}`,
  };
}

/** What a key sees of the platform's tenants: all of them (platform key), or its own only. */
export interface PlatformView {
  /** The key's tenant; undefined for a platform key. */
  readonly onlyTenantId: string | undefined;
}

/**
 * `/tenants` itself, at the top: a tenant key sees only its own tenant (another is 404, as a missing one);
 * changes need a platform key and the resource's role; a tenant's audit entries are filed under it.
 */
export function platformScope(): ResourceScope<PlatformView> {
  return {
    collection: '/tenants',
    member: '/tenants/:tenantId',
    memberParams: tenantParams,
    memberId: (params) => params.tenantId ?? '',
    async resolve(request, reply, memberId) {
      if (memberId !== undefined && !inTenantScope(request, memberId)) {
        sendProblem(reply, 'not-found', `no tenant ${memberId}`);
        return undefined;
      }
      return { onlyTenantId: request.apiKey?.tenantId ?? undefined };
    },
    mayChange: (request, reply, role) =>
      requirePlatformKey(request, reply) && requireRole(request, reply, role),
    auditTenant: (_, tenant) => tenant.id,
    location: (_, tenant) => `/v1/tenants/${tenant.id}`,
  };
}

/** Registers list, get, create, update and delete of one tenant resource. */
export function registerTenantResource<
  T extends { id: string },
  Create,
  Patch,
  Query extends { after?: string },
>(app: FastifyInstance, db: Database, r: TenantResource<T, Create, Patch, Query>): void {
  registerResource(app, db, tenantScope(db, r.path), r);
}

/** Registers list, get, create, update and delete of one resource in its scope. */
export function registerResource<
  S,
  T extends { id: string },
  Create,
  Patch,
  Query extends { after?: string },
>(
  app: FastifyInstance,
  db: Database,
  scope: ResourceScope<S>,
  r: Resource<S, T, Create, Patch, Query>,
): void {
  const view = (item: T): object => r.audit?.view?.(item) ?? item;
  const written = (body: Create | Patch, action: 'create' | 'update') =>
    r.audit?.written?.(body, action) ?? {};
  const showOne = async (item: T, s: S, use: 'read' | 'written') =>
    r.show ? (await r.show([item], s, use))[0] : item;
  const notFound = (id: string) => `no ${r.noun} ${id}`;
  const options = (
    operation: keyof Resource<S, T, Create, Patch, Query>['summaries'],
    params: object | undefined,
    response: Record<number, unknown>,
    request: { body?: object; querystring?: object } = {},
  ) => ({
    schema: {
      tags: [r.tag],
      summary: r.summaries[operation],
      ...(params ? { params } : {}),
      ...request,
      response: responses(response),
    },
  });
  /** The scope when the key may change this resource and the body passes its rules; else answered. */
  const changing = async (
    request: FastifyRequest,
    reply: FastifyReply,
    memberId: string | undefined,
    body?: Create | Patch,
  ): Promise<S | undefined> => {
    const s = await scope.resolve(request, reply, memberId);
    if (s === undefined || !scope.mayChange(request, reply, r.role)) return undefined;
    const refused = body === undefined ? undefined : await r.refuse?.(body);
    if (refused) return void sendProblem(reply, ...refused);
    return s;
  };
  const refusalOf = (err: unknown, body: Create | Patch) => {
    const refusal = r.failure?.(err, body);
    if (!refusal) throw err;
    return refusal;
  };

  app.post<{ Params: Params }>(
    scope.collection,
    options('create', scope.collectionParams, { 201: r.schemas.item }, { body: r.schemas.create }),
    async (request, reply) => {
      const body = request.body as Create; // validated by schemas.create
      const s = await changing(request, reply, undefined, body);
      if (s === undefined) return reply;
      let created: T;
      try {
        created = await db.transaction(async (tx) => {
          const item = await r.create(tx, s, body);
          await recordMutation(tx, request, {
            tenantId: scope.auditTenant(s, item),
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
        .header('location', scope.location(s, created))
        .send(await showOne(created, s, 'written'));
    },
  );

  app.get<{ Params: Params }>(
    scope.collection,
    options(
      'list',
      scope.collectionParams,
      { 200: pageOf(r.schemas.item) },
      { querystring: r.schemas.query ?? pageQuery },
    ),
    async (request, reply) => {
      const s = await scope.resolve(request, reply);
      if (s === undefined) return reply;
      const query = request.query as Query & { limit?: number }; // validated by schemas.query
      const limit = pageLimit(query.limit);
      const items = await r.list(db, s, { limit, query });
      if (isRefusal(items)) return sendProblem(reply, ...items);
      return {
        items: r.show ? await r.show(items, s, 'read') : items,
        nextCursor: nextCursor(items, limit, r.cursor),
      };
    },
  );

  app.get<{ Params: Params }>(
    scope.member,
    options('get', scope.memberParams, { 200: r.schemas.item }),
    async (request, reply) => {
      const id = scope.memberId(request.params);
      const s = await scope.resolve(request, reply, id);
      if (s === undefined) return reply;
      const item = await r.get(db, s, id);
      return item ? showOne(item, s, 'read') : sendProblem(reply, 'not-found', notFound(id));
    },
  );

  app.patch<{ Params: Params }>(
    scope.member,
    options('update', scope.memberParams, { 200: r.schemas.item }, { body: r.schemas.update }),
    async (request, reply) => {
      const body = request.body as Patch; // validated by schemas.update
      const id = scope.memberId(request.params);
      const s = await changing(request, reply, id, body);
      if (s === undefined) return reply;
      let changed: { before: T; after: T } | undefined;
      try {
        changed = await db.transaction(async (tx) => {
          const result = await r.update(tx, s, id, body);
          if (result) {
            await recordMutation(tx, request, {
              tenantId: scope.auditTenant(s, result.after),
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
      return changed ? showOne(changed.after, s, 'written') : sendProblem(reply, 'not-found', notFound(id));
    },
  );

  app.delete<{ Params: Params }>(
    scope.member,
    options('delete', scope.memberParams, { 204: { type: 'null' } }),
    async (request, reply) => {
      const id = scope.memberId(request.params);
      const s = await changing(request, reply, id);
      if (s === undefined) return reply;
      const deleted = await db.transaction(async (tx) => {
        const item = await r.remove(tx, s, id);
        if (item) {
          await recordMutation(tx, request, {
            tenantId: scope.auditTenant(s, item),
            action: 'delete',
            entity: r.entity,
            entityId: item.id,
            before: view(item),
          });
        }
        return item;
      });
      if (!deleted) return sendProblem(reply, 'not-found', notFound(id));
      return reply.code(204).send();
    },
  );
}

/** Items are objects; a refusal is a pair of strings. */
function isRefusal<T extends object>(value: readonly T[] | Refusal): value is Refusal {
  return typeof value[0] === 'string';
}
