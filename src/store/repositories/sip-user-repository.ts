import type { Queryable } from '../database/database.js';
import type { RecordingPolicy, SipDigestAlgorithm } from './tenant-repository.js';

/**
 * Where calls to a registered contact go: `auto` decides per REGISTER (behind NAT → where it came from, else
 * its Contact), `force` always where the REGISTER came from, `off` always the Contact.
 */
export type NatMode = 'auto' | 'force' | 'off';

/**
 * Whether the media of a party's calls is encrypted: `auto` leaves it to the offers (each party is answered in
 * the profile it offered), `none` is plain RTP (RTP/AVP), `sdes` SDES-SRTP (RTP/SAVP with a=crypto keys, RFC
 * 4568). The same setting exists on users, trunks and routes; docs/architecture.md says what the gateway does
 * with it.
 */
export type MediaEncryption = 'auto' | 'none' | 'sdes' | 'dtls';

/** What the registrar needs to authenticate a user: the HA1 values, never a password. */
export interface SipCredentials {
  userId: string;
  tenantId: string;
  username: string;
  ha1Md5: string;
  ha1Sha256: string;
  enabled: boolean;
  tenantActive: boolean;
  /** Calls the user may have at once (placed and received); null = no limit. */
  maxConcurrentCalls: number | null;
  /** Where calls to the user's registered contacts go (read at each REGISTER). */
  nat: NatMode;
  /** The media the user's phones must get and send (read per call). */
  mediaEncryption: MediaEncryption;
  /** The recording policy of the user's calls (placed and received); null = the tenant's. */
  recording: RecordingPolicy | null;
}

/**
 * The digest algorithms of a tenant's realm: the tenant's list (null = the platform's) and the users that
 * have one of their own. Read once per realm, so that choosing a request's challenges costs no query per
 * username.
 */
export interface RealmDigestAlgorithms {
  readonly tenant: SipDigestAlgorithm[] | null;
  /** By username: only users with a list of their own. */
  readonly users: ReadonlyMap<string, SipDigestAlgorithm[]>;
}

export interface SipUser {
  id: string;
  tenantId: string;
  username: string;
  displayName: string | null;
  /** The number or name presented as the caller on calls the user places; null = the username. */
  callerId: string | null;
  enabled: boolean;
  maxConcurrentCalls: number | null;
  nat: NatMode;
  mediaEncryption: MediaEncryption;
  /** The user's own digest challenges, preferred first; null = the tenant's (then the platform's). */
  sipDigestAlgorithms: SipDigestAlgorithm[] | null;
  /** The recording policy of the user's calls; null = the tenant's. */
  recording: RecordingPolicy | null;
  createdAt: Date;
}

/** Only the given fields change; new HA1 values replace a password. */
export interface SipUserPatch {
  displayName?: string | null;
  callerId?: string | null;
  enabled?: boolean;
  maxConcurrentCalls?: number | null;
  nat?: NatMode;
  mediaEncryption?: MediaEncryption;
  sipDigestAlgorithms?: readonly SipDigestAlgorithm[] | null;
  recording?: RecordingPolicy | null;
  ha1?: { md5: string; sha256: string };
}

interface UserRow {
  id: string;
  tenant_id: string;
  username: string;
  display_name: string | null;
  caller_id: string | null;
  enabled: boolean;
  max_concurrent_calls: number | null;
  nat: NatMode;
  media_encryption: MediaEncryption;
  sip_digest_algorithms: SipDigestAlgorithm[] | null;
  recording: RecordingPolicy | null;
  created_at: Date;
}

const USER_COLUMNS =
  'id, tenant_id, username, display_name, caller_id, enabled, max_concurrent_calls, nat, media_encryption, ' +
  'sip_digest_algorithms, recording, created_at';

const toUser = (r: UserRow): SipUser => ({
  id: r.id,
  tenantId: r.tenant_id,
  username: r.username,
  displayName: r.display_name,
  callerId: r.caller_id,
  enabled: r.enabled,
  maxConcurrentCalls: r.max_concurrent_calls,
  nat: r.nat,
  mediaEncryption: r.media_encryption,
  sipDigestAlgorithms: r.sip_digest_algorithms,
  recording: r.recording,
  createdAt: r.created_at,
});

interface CredentialsRow {
  id: string;
  tenant_id: string;
  username: string;
  ha1_md5: string;
  ha1_sha256: string;
  enabled: boolean;
  status: string;
  max_concurrent_calls: number | null;
  nat: NatMode;
  media_encryption: MediaEncryption;
  recording: RecordingPolicy | null;
}

const toCredentials = (r: CredentialsRow): SipCredentials => ({
  userId: r.id,
  tenantId: r.tenant_id,
  username: r.username,
  ha1Md5: r.ha1_md5,
  ha1Sha256: r.ha1_sha256,
  enabled: r.enabled,
  tenantActive: r.status === 'active',
  maxConcurrentCalls: r.max_concurrent_calls,
  nat: r.nat,
  mediaEncryption: r.media_encryption,
  recording: r.recording,
});

export interface SipUserRepository {
  /** A page of a tenant's users ordered by username, after the cursor (the last username of the previous page). */
  list(tenantId: string, options: { limit: number; after?: string }): Promise<SipUser[]>;
  /** Creates a user from HA1 values computed by the caller for the tenant's realm. */
  create(input: {
    tenantId: string;
    username: string;
    displayName?: string;
    callerId?: string;
    enabled?: boolean;
    maxConcurrentCalls?: number;
    nat?: NatMode;
    mediaEncryption?: MediaEncryption;
    sipDigestAlgorithms?: readonly SipDigestAlgorithm[] | null;
    recording?: RecordingPolicy | null;
    ha1Md5: string;
    ha1Sha256: string;
  }): Promise<SipUser>;
  get(tenantId: string, id: string): Promise<SipUser | undefined>;
  update(
    tenantId: string,
    id: string,
    patch: SipUserPatch,
  ): Promise<{ before: SipUser; after: SipUser } | undefined>;
  /** Deletes the user; numbers that rang it become unassigned. */
  delete(tenantId: string, id: string): Promise<SipUser | undefined>;
  /** Credentials of `username` in the tenant serving `sipDomain`. */
  findCredentials(sipDomain: string, username: string): Promise<SipCredentials | undefined>;
  /**
   * Credentials of each of `usernames` in the tenant serving `sipDomain`, in one query: by username, the
   * unknown ones absent (a registration storm's lookups gathered, `batched-lookup.ts`).
   */
  findCredentialsOf(sipDomain: string, usernames: readonly string[]): Promise<Map<string, SipCredentials>>;
  /** The digest algorithms of the tenant serving `sipDomain` and of its users that have their own. */
  digestAlgorithms(sipDomain: string): Promise<RealmDigestAlgorithms | undefined>;
}

export function createSipUserRepository(db: Queryable): SipUserRepository {
  const findCredentialsOf: SipUserRepository['findCredentialsOf'] = async (sipDomain, usernames) => {
    const { rows } = await db.query<CredentialsRow>(
      `SELECT u.id, u.tenant_id, u.username, u.ha1_md5, u.ha1_sha256, u.enabled, t.status, u.max_concurrent_calls,
              u.nat, u.media_encryption, u.recording
         FROM sip_users u JOIN tenants t ON t.id = u.tenant_id
        WHERE t.sip_domain = lower($1) AND u.username = ANY($2::text[])`,
      [sipDomain, usernames],
    );
    const found = new Map<string, SipCredentials>();
    for (const r of rows) found.set(r.username, toCredentials(r));
    return found;
  };
  return {
    async list(tenantId, { limit, after }) {
      const { rows } = await db.query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM sip_users
          WHERE tenant_id = $1 AND ($2::text IS NULL OR username > $2) ORDER BY username LIMIT $3`,
        [tenantId, after ?? null, limit],
      );
      return rows.map(toUser);
    },
    async create(input) {
      const { rows } = await db.query<UserRow>(
        `INSERT INTO sip_users (tenant_id, username, display_name, caller_id, enabled, max_concurrent_calls,
                                ha1_md5, ha1_sha256, nat, sip_digest_algorithms, media_encryption, recording)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text[], $11, $12) RETURNING ${USER_COLUMNS}`,
        [
          input.tenantId,
          input.username,
          input.displayName ?? null,
          input.callerId ?? null,
          input.enabled ?? true,
          input.maxConcurrentCalls ?? null,
          input.ha1Md5,
          input.ha1Sha256,
          input.nat ?? 'auto',
          input.sipDigestAlgorithms ?? null,
          input.mediaEncryption ?? 'auto',
          input.recording ?? null,
        ],
      );
      return toUser(rows[0]!);
    },
    async get(tenantId, id) {
      const { rows } = await db.query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM sip_users WHERE tenant_id = $1 AND id = $2`,
        [tenantId, id],
      );
      return rows[0] && toUser(rows[0]);
    },
    async update(tenantId, id, patch) {
      const { rows: current } = await db.query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM sip_users WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [tenantId, id],
      );
      if (!current[0]) return undefined;
      const before = toUser(current[0]);
      const pick = <K extends keyof SipUserPatch & keyof SipUser>(k: K) =>
        patch[k] === undefined ? before[k] : patch[k];
      const { rows } = await db.query<UserRow>(
        `UPDATE sip_users SET display_name = $3, caller_id = $4, enabled = $5, max_concurrent_calls = $6,
                ha1_md5 = coalesce($7, ha1_md5), ha1_sha256 = coalesce($8, ha1_sha256), nat = $9,
                sip_digest_algorithms = $10::text[], media_encryption = $11, recording = $12, updated_at = now()
          WHERE tenant_id = $1 AND id = $2 RETURNING ${USER_COLUMNS}`,
        [
          tenantId,
          id,
          pick('displayName'),
          pick('callerId'),
          pick('enabled'),
          pick('maxConcurrentCalls'),
          patch.ha1?.md5 ?? null,
          patch.ha1?.sha256 ?? null,
          pick('nat'),
          pick('sipDigestAlgorithms'),
          pick('mediaEncryption'),
          pick('recording'),
        ],
      );
      return { before, after: toUser(rows[0]!) };
    },
    async delete(tenantId, id) {
      const { rows } = await db.query<UserRow>(
        `DELETE FROM sip_users WHERE tenant_id = $1 AND id = $2 RETURNING ${USER_COLUMNS}`,
        [tenantId, id],
      );
      return rows[0] && toUser(rows[0]);
    },
    async findCredentials(sipDomain, username) {
      return (await findCredentialsOf(sipDomain, [username])).get(username);
    },
    findCredentialsOf,
    async digestAlgorithms(sipDomain) {
      const { rows } = await db.query<{
        tenant_algorithms: SipDigestAlgorithm[] | null;
        username: string | null;
        user_algorithms: SipDigestAlgorithm[] | null;
      }>(
        `SELECT t.sip_digest_algorithms AS tenant_algorithms, u.username, u.sip_digest_algorithms AS user_algorithms
           FROM tenants t
           LEFT JOIN sip_users u ON u.tenant_id = t.id AND u.sip_digest_algorithms IS NOT NULL
          WHERE t.sip_domain = lower($1)`,
        [sipDomain],
      );
      if (!rows[0]) return undefined;
      const users = new Map<string, SipDigestAlgorithm[]>();
      for (const r of rows)
        if (r.username !== null && r.user_algorithms) users.set(r.username, r.user_algorithms);
      return { tenant: rows[0].tenant_algorithms, users };
    },
  };
}
