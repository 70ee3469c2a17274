import type { FastifyInstance } from 'fastify';
import {
  createSipUserRepository,
  type Database,
  type MediaEncryption,
  type RecordingPolicy,
  type SipDigestAlgorithm,
  type SipUser,
  type SipUserPatch,
  type Tenant,
} from '../../store/index.js';
import {
  digestAlgorithmsSchema,
  integer,
  mediaEncryptionSchema,
  natSchema,
  nullableInteger,
  nullableRecordingPolicySchema,
  nullableText,
  text,
  userSchema,
} from '../schemas.js';
import { registerTenantResource } from './resource-routes.js';
import { isUniqueViolation } from './route-helpers.js';

/** HA1 = H(username:realm:password) for one algorithm; injected so the API layer holds no SIP code. */
export type Ha1Function = (
  algorithm: 'MD5' | 'SHA-256',
  username: string,
  realm: string,
  password: string,
) => string;

const userFields = {
  username: { type: 'string', pattern: "^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,64}$" },
  password: { ...text({ minLength: 8, maxLength: 128 }), writeOnly: true },
  displayName: text({ maxLength: 200 }),
  callerId: text({ minLength: 1, maxLength: 64 }),
  enabled: { type: 'boolean' },
  maxConcurrentCalls: integer({ minimum: 0 }),
  nat: natSchema,
  mediaEncryption: mediaEncryptionSchema,
  sipDigestAlgorithms: digestAlgorithmsSchema,
  recording: nullableRecordingPolicySchema,
} as const;

interface UserBody {
  username: string;
  password: string;
  displayName?: string;
  callerId?: string;
  enabled?: boolean;
  maxConcurrentCalls?: number;
  nat?: 'auto' | 'force' | 'off';
  mediaEncryption?: MediaEncryption;
  sipDigestAlgorithms?: SipDigestAlgorithm[] | null;
  recording?: RecordingPolicy | null;
}

interface UserPatchBody {
  password?: string;
  displayName?: string | null;
  callerId?: string | null;
  enabled?: boolean;
  maxConcurrentCalls?: number | null;
  nat?: 'auto' | 'force' | 'off';
  mediaEncryption?: MediaEncryption;
  sipDigestAlgorithms?: SipDigestAlgorithm[] | null;
  recording?: RecordingPolicy | null;
}

const publicUser = (user: SipUser, tenant: Tenant) => ({
  ...user,
  sipUri: `sip:${user.username}@${tenant.sipDomain}`,
});

/**
 * `/v1/tenants/{tenantId}/users`: SIP users. The password is accepted and turned into HA1 values for the
 * tenant's realm; it is never stored, returned or audited.
 */
export function registerSipUserRoutes(app: FastifyInstance, deps: { db: Database; ha1: Ha1Function }): void {
  const ha1Of = (tenant: Tenant, username: string, password: string) => ({
    md5: deps.ha1('MD5', username, tenant.sipDomain, password),
    sha256: deps.ha1('SHA-256', username, tenant.sipDomain, password),
  });

  registerTenantResource<SipUser, UserBody, UserPatchBody, { after?: string }>(app, deps.db, {
    path: 'users',
    tag: 'users',
    entity: 'sip-user',
    noun: 'user',
    role: 'operator',
    schemas: {
      item: userSchema,
      create: {
        type: 'object',
        additionalProperties: false,
        required: ['username', 'password'],
        properties: userFields,
      },
      update: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          password: userFields.password,
          displayName: nullableText({ maxLength: 200 }),
          callerId: nullableText({ minLength: 1, maxLength: 64 }),
          enabled: userFields.enabled,
          maxConcurrentCalls: nullableInteger({ minimum: 0 }),
          nat: userFields.nat,
          mediaEncryption: userFields.mediaEncryption,
          sipDigestAlgorithms: userFields.sipDigestAlgorithms,
          recording: userFields.recording,
        },
      },
    },
    summaries: {
      create: 'Create a SIP user (operator)',
      list: 'List SIP users by username',
      get: 'Get a SIP user',
      update:
        'Change a SIP user (operator): password, names, limits, enabled, nat, media encryption, digest ' +
        'algorithms, recording policy',
      delete: 'Delete a SIP user (operator); its numbers become unassigned',
    },
    list: (db, tenant, { limit, query }) =>
      createSipUserRepository(db).list(tenant.id, { limit, after: query.after }),
    get: (db, tenant, id) => createSipUserRepository(db).get(tenant.id, id),
    create(tx, tenant, { password, ...rest }) {
      const ha1 = ha1Of(tenant, rest.username, password);
      return createSipUserRepository(tx).create({
        ...rest,
        tenantId: tenant.id,
        ha1Md5: ha1.md5,
        ha1Sha256: ha1.sha256,
      });
    },
    async update(tx, tenant, id, { password, ...rest }) {
      const users = createSipUserRepository(tx);
      let patch: SipUserPatch = rest;
      if (password !== undefined) {
        const current = await users.get(tenant.id, id);
        if (!current) return undefined;
        patch = { ...rest, ha1: ha1Of(tenant, current.username, password) };
      }
      return users.update(tenant.id, id, patch);
    },
    remove: (tx, tenant, id) => createSipUserRepository(tx).delete(tenant.id, id),
    cursor: (u) => u.username,
    failure: (err, body) =>
      isUniqueViolation(err) && 'username' in body
        ? ['conflict', `user ${body.username} already exists in this tenant`]
        : undefined,
    show: (users, tenant) => users.map((u) => publicUser(u, tenant)),
    audit: {
      // The password is masked in the audit log; that it was changed is recorded.
      written: (body, action) =>
        action === 'update' && body.password !== undefined ? { password: body.password } : {},
    },
  });
}
