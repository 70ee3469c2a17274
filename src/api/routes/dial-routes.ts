import type { FastifyInstance } from 'fastify';
import {
  createRouteRepository,
  type Database,
  type Route as DialRoute,
  type RouteCursor,
  type RouteInput,
  type RoutePatch,
} from '../../store/index.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import {
  integer,
  isStorableText,
  mediaEncryptionSchema,
  nullableRecordingPolicySchema,
  PG_INTEGER_MAX,
  routeSchema,
  text,
  uuid,
} from '../schemas.js';
import { registerTenantResource } from './resource-routes.js';
import { isUniqueViolation } from './route-helpers.js';

const routeFields = {
  name: text({ minLength: 1, maxLength: 100 }),
  pattern: text({
    minLength: 1,
    maxLength: 200,
    description: 'regular expression the whole dialled number must match, e.g. 00\\d+ or \\+44\\d+',
  }),
  priority: integer({ minimum: 0, maximum: 100000, description: 'lower is tried first' }),
  stripDigits: integer({ minimum: 0, maximum: 15, description: 'digits removed from the front' }),
  prefix: { type: 'string', pattern: '^\\+?[0-9]{0,15}$', description: 'prepended after stripping' },
  mediaBypass: {
    type: 'boolean',
    description: 'calls on this route keep their media off the relays (the SDP passes unchanged)',
  },
  mediaEncryption: {
    ...mediaEncryptionSchema,
    description:
      'the media on the trunk leg: sdes requires SDES-SRTP (the trunk is offered RTP/SAVP), none plain RTP, ' +
      "auto (default) the trunk's own mediaEncryption",
  },
  recording: nullableRecordingPolicySchema,
  trunkIds: {
    type: 'array',
    minItems: 1,
    maxItems: 10,
    uniqueItems: true,
    items: uuid,
    description: 'trunks in the order they are tried',
  },
} as const;

/** A route pattern must compile, or every call would skip it silently. */
function patternError(pattern: string | undefined): string | undefined {
  if (pattern === undefined) return undefined;
  try {
    new RegExp(`^(?:${pattern})$`);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** A cursor this list made: a priority and a name the database can compare with (the cursor is client input). */
const isRouteCursor = (v: unknown): v is RouteCursor =>
  typeof v === 'object' &&
  v !== null &&
  Number.isInteger((v as RouteCursor).priority) &&
  Math.abs((v as RouteCursor).priority) <= PG_INTEGER_MAX &&
  typeof (v as RouteCursor).name === 'string' &&
  isStorableText((v as RouteCursor).name);

/** The audit log keeps a route without its trunks' details (their ids are in trunkIds). */
const audited = (route: DialRoute) => ({ ...route, trunks: undefined });

/**
 * `/v1/tenants/{tenantId}/routes`: where calls to numbers go: a pattern, a priority, number rewriting and
 * the trunks tried in order. The gateway reads routes per call.
 */
export function registerDialRoutes(app: FastifyInstance, deps: { db: Database }): void {
  registerTenantResource<DialRoute, Omit<RouteInput, 'tenantId'>, RoutePatch, { after?: string }>(
    app,
    deps.db,
    {
      path: 'routes',
      tag: 'routes',
      entity: 'route',
      noun: 'route',
      role: 'operator',
      schemas: {
        item: routeSchema,
        create: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'pattern', 'trunkIds'],
          properties: routeFields,
        },
        update: { type: 'object', additionalProperties: false, minProperties: 1, properties: routeFields },
      },
      summaries: {
        create: 'Create a route (operator)',
        list: 'List routes in the order they are tried (priority, then name)',
        get: 'Get a route with its trunks',
        update: 'Change a route (operator); trunkIds replaces the list',
        delete: 'Delete a route (operator)',
      },
      async list(db, tenant, { limit, query }) {
        const after = query.after === undefined ? undefined : decodeCursor(query.after, isRouteCursor);
        if (query.after !== undefined && !after)
          return ['validation-failed', 'after is not a cursor of this list'];
        return createRouteRepository(db).list(tenant.id, { limit, ...(after ? { after } : {}) });
      },
      get: (db, tenant, id) => createRouteRepository(db).get(tenant.id, id),
      create: (tx, tenant, body) => createRouteRepository(tx).create({ tenantId: tenant.id, ...body }),
      update: (tx, tenant, id, body) => createRouteRepository(tx).update(tenant.id, id, body),
      remove: (tx, tenant, id) => createRouteRepository(tx).delete(tenant.id, id),
      cursor: (r) => encodeCursor({ priority: r.priority, name: r.name }),
      refuse(body) {
        const invalid = patternError(body.pattern);
        return invalid ? ['validation-failed', `pattern is not a regular expression: ${invalid}`] : undefined;
      },
      failure(err, body) {
        if (isUniqueViolation(err)) return ['conflict', `route ${body.name} already exists`];
        if (err instanceof RangeError) return ['not-found', 'a trunk of the route does not exist'];
        return undefined;
      },
      audit: { view: audited },
    },
  );
}
