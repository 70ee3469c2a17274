import type { Queryable } from '../database/database.js';
import type { WebhookEvent, WebhookEventType } from '../webhooks/webhook-events.js';

export interface Webhook {
  id: string;
  tenantId: string;
  url: string;
  events: WebhookEventType[];
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** Only on the webhook `create` returns: the secret is never read back otherwise. */
  secret?: string;
}

export interface WebhookInput {
  tenantId: string;
  url: string;
  events: WebhookEventType[];
  secret: string;
  enabled?: boolean;
}

export type WebhookPatch = Partial<Pick<WebhookInput, 'url' | 'events' | 'secret' | 'enabled'>>;

/** An enabled subscription with its secret: what the worker signs deliveries with. */
export interface WebhookTarget {
  id: string;
  url: string;
  secret: string;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  state: DeliveryState;
  attempts: number;
  /** The HTTP status of the last attempt, when the receiver answered. */
  lastStatus: number | null;
  /** Why the last attempt failed when there was no answer (timeout, refused connection, address refused). */
  lastError: string | null;
  createdAt: Date;
  lastAttemptAt: Date | null;
  /** When the next attempt is due (pending only). */
  nextAttemptAt: Date | null;
  completedAt: Date | null;
}

/** A delivery claimed for an attempt: where to, the secret, and the bytes to send. */
export interface ClaimedDelivery {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  url: string;
  secret: string;
  payload: string;
  /** Attempts before this one. */
  attempts: number;
  createdAt: Date;
}

/** The outcome of one attempt. */
export type AttemptOutcome =
  | { delivered: true; status: number }
  | { delivered: false; status?: number; error?: string; retryAt: Date | null };

export interface WebhookRepository {
  /** Creates a subscription; the returned webhook carries its secret (the only time it is read back). */
  create(input: WebhookInput): Promise<Webhook>;
  get(tenantId: string, id: string): Promise<Webhook | undefined>;
  update(
    tenantId: string,
    id: string,
    patch: WebhookPatch,
  ): Promise<{ before: Webhook; after: Webhook } | undefined>;
  delete(tenantId: string, id: string): Promise<Webhook | undefined>;
  /** A page of a tenant's webhooks by creation, after the cursor (the id of the last of the previous page). */
  list(tenantId: string, options: { limit: number; after?: string }): Promise<Webhook[]>;
  /**
   * Records a delivery of each event to every enabled subscription of its tenant that takes its type, due at
   * once; an event already recorded for a subscription is left as it is (stream redeliveries). Returns how
   * many deliveries were added.
   */
  enqueue(events: readonly WebhookEvent[]): Promise<number>;
  /**
   * The event types the enabled subscriptions of each of these tenants take; a tenant with none is absent.
   * Tenants are compared as text (an id that is no tenant's has none).
   */
  subscribedTypes(tenantIds: readonly string[]): Promise<Map<string, Set<string>>>;
  /**
   * Claims due pending deliveries for an attempt: at most `perWebhook` per subscription (minus what this
   * worker already has in flight for it, `busy`), `limit` in all, oldest first. A claimed delivery is not due
   * again until `leaseMs` have passed, so other workers skip it; if this one dies, it is attempted again then.
   * Deliveries of disabled or deleted subscriptions are not claimed.
   */
  claimDue(options: {
    limit: number;
    perWebhook: number;
    busy?: ReadonlyMap<string, number>;
    leaseMs: number;
  }): Promise<ClaimedDelivery[]>;
  /** Records an attempt: delivered, or failed and due again at `retryAt` (null: given up). */
  recordAttempt(id: string, outcome: AttemptOutcome): Promise<void>;
  /** A page of a webhook's deliveries, newest first, after the cursor (the id of the last of the previous page). */
  deliveries(
    tenantId: string,
    webhookId: string,
    options: { limit: number; after?: string; state?: DeliveryState },
  ): Promise<WebhookDelivery[]>;
  /** Deletes finished deliveries completed before `cutoff`; returns how many. */
  purgeBefore(cutoff: Date): Promise<number>;
}

interface Row {
  id: string;
  tenant_id: string;
  url: string;
  events: string[] | string;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, tenant_id, url, events::text[] AS events, enabled, created_at, updated_at';

/** node-postgres and PGlite return text[] as an array; a `{a,b}` literal is parsed for safety. */
function textArray(value: string[] | string): string[] {
  if (Array.isArray(value)) return value;
  return value
    .replace(/^\{|\}$/g, '')
    .split(',')
    .filter(Boolean);
}

const toWebhook = (r: Row): Webhook => ({
  id: r.id,
  tenantId: r.tenant_id,
  url: r.url,
  events: textArray(r.events) as WebhookEventType[],
  enabled: r.enabled,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

interface DeliveryRow {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  state: DeliveryState;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: Date;
  last_attempt_at: Date | null;
  next_attempt_at: Date | null;
  completed_at: Date | null;
}

const toDelivery = (r: DeliveryRow): WebhookDelivery => ({
  id: r.id,
  webhookId: r.webhook_id,
  eventId: r.event_id,
  eventType: r.event_type,
  state: r.state,
  attempts: r.attempts,
  lastStatus: r.last_status,
  lastError: r.last_error,
  createdAt: r.created_at,
  lastAttemptAt: r.last_attempt_at,
  nextAttemptAt: r.state === 'pending' ? r.next_attempt_at : null,
  completedAt: r.completed_at,
});

/** The longest error text kept for a delivery. */
const MAX_ERROR_LENGTH = 500;

export function createWebhookRepository(db: Queryable): WebhookRepository {
  return {
    async create(input) {
      const { rows } = await db.query<Row>(
        `INSERT INTO webhooks (tenant_id, url, events, secret, enabled)
         VALUES ($1, $2, $3::text[], $4, $5) RETURNING ${COLUMNS}`,
        [input.tenantId, input.url, input.events, input.secret, input.enabled ?? true],
      );
      return { ...toWebhook(rows[0]!), secret: input.secret };
    },
    async get(tenantId, id) {
      const { rows } = await db.query<Row>(
        `SELECT ${COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2`,
        [tenantId, id],
      );
      return rows[0] && toWebhook(rows[0]);
    },
    async update(tenantId, id, patch) {
      const { rows: current } = await db.query<Row>(
        `SELECT ${COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [tenantId, id],
      );
      if (!current[0]) return undefined;
      const before = toWebhook(current[0]);
      const { rows } = await db.query<Row>(
        `UPDATE webhooks SET url = $3, events = $4::text[], secret = coalesce($5, secret), enabled = $6,
                updated_at = now()
          WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [
          tenantId,
          id,
          patch.url ?? before.url,
          patch.events ?? before.events,
          patch.secret ?? null,
          patch.enabled ?? before.enabled,
        ],
      );
      return { before, after: toWebhook(rows[0]!) };
    },
    async delete(tenantId, id) {
      const { rows } = await db.query<Row>(
        `DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [tenantId, id],
      );
      return rows[0] && toWebhook(rows[0]);
    },
    async list(tenantId, { limit, after }) {
      const { rows } = await db.query<Row>(
        `SELECT ${COLUMNS} FROM webhooks
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM webhooks
                                                                           WHERE id = $2::uuid))
          ORDER BY created_at, id LIMIT $3`,
        [tenantId, after ?? null, limit],
      );
      return rows.map(toWebhook);
    },
    async enqueue(events) {
      if (events.length === 0) return 0;
      // Tenants are compared as text: an event naming no real tenant matches nothing instead of failing the batch.
      const { rowCount } = await db.query(
        `INSERT INTO webhook_deliveries (webhook_id, tenant_id, event_id, event_type, payload, next_attempt_at)
         SELECT w.id, w.tenant_id, e.event_id, e.event_type, e.payload, now()
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS e(tenant_id, event_id, event_type, payload)
           JOIN webhooks w ON w.tenant_id::text = e.tenant_id AND w.enabled AND e.event_type = ANY (w.events)
         ON CONFLICT (webhook_id, event_id) DO NOTHING`,
        [
          events.map((e) => e.tenantId),
          events.map((e) => e.id),
          events.map((e) => e.type),
          events.map((e) => JSON.stringify(e)),
        ],
      );
      return rowCount ?? 0;
    },
    async subscribedTypes(tenantIds) {
      const out = new Map<string, Set<string>>();
      if (tenantIds.length === 0) return out;
      const { rows } = await db.query<{ tenant_id: string; event_type: string }>(
        `SELECT DISTINCT w.tenant_id::text AS tenant_id, t.event_type
           FROM webhooks w, unnest(w.events::text[]) AS t(event_type)
          WHERE w.enabled AND w.tenant_id::text = ANY ($1::text[])`,
        [tenantIds],
      );
      for (const { tenant_id, event_type } of rows) {
        let types = out.get(tenant_id);
        if (!types) out.set(tenant_id, (types = new Set()));
        types.add(event_type);
      }
      return out;
    },
    async claimDue({ limit, perWebhook, busy = new Map<string, number>(), leaseMs }) {
      const busyIds = [...busy.keys()];
      const busyCounts = busyIds.map((id) => busy.get(id) ?? 0);
      const { rows } = await db.query<{
        id: string;
        webhook_id: string;
        event_id: string;
        event_type: string;
        url: string;
        secret: string;
        payload: string;
        attempts: number;
        created_at: Date;
      }>(
        `WITH busy AS (
           SELECT * FROM unnest($3::uuid[], $4::int[]) AS b(webhook_id, n)
         ), due AS (
           SELECT d.id, d.webhook_id,
                  row_number() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS rank
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.enabled
            WHERE d.state = 'pending' AND d.next_attempt_at <= now()
         ), chosen AS (
           SELECT d.id FROM webhook_deliveries d
             JOIN due ON due.id = d.id
             LEFT JOIN busy ON busy.webhook_id = due.webhook_id
            -- Due again here, on the row itself: a row another worker claimed after this statement's snapshot
            -- is locked in its new version, which this condition then refuses (READ COMMITTED re-check).
            WHERE due.rank <= $2 - coalesce(busy.n, 0) AND d.state = 'pending' AND d.next_attempt_at <= now()
            ORDER BY d.next_attempt_at, d.id
            LIMIT $1
              FOR UPDATE OF d SKIP LOCKED
         )
         UPDATE webhook_deliveries d
            SET next_attempt_at = now() + make_interval(secs => $5::double precision / 1000)
           FROM chosen, webhooks w
          WHERE d.id = chosen.id AND w.id = d.webhook_id
         RETURNING d.id, d.webhook_id, d.event_id, d.event_type, w.url, w.secret, d.payload, d.attempts,
                   d.created_at`,
        [limit, perWebhook, busyIds, busyCounts, leaseMs],
      );
      return rows.map((r) => ({
        id: r.id,
        webhookId: r.webhook_id,
        eventId: r.event_id,
        eventType: r.event_type,
        url: r.url,
        secret: r.secret,
        payload: r.payload,
        attempts: r.attempts,
        createdAt: r.created_at,
      }));
    },
    async recordAttempt(id, outcome) {
      const state: DeliveryState = outcome.delivered
        ? 'delivered'
        : outcome.retryAt === null
          ? 'failed'
          : 'pending';
      const error = outcome.delivered ? null : (outcome.error?.slice(0, MAX_ERROR_LENGTH) ?? null);
      await db.query(
        `UPDATE webhook_deliveries
            SET attempts = attempts + 1, state = $2, last_status = $3, last_error = $4, last_attempt_at = now(),
                next_attempt_at = $5, completed_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END
          WHERE id = $1 AND state = 'pending'`,
        [
          id,
          state,
          outcome.status ?? null,
          error,
          outcome.delivered || outcome.retryAt === null ? null : outcome.retryAt,
        ],
      );
    },
    async deliveries(tenantId, webhookId, { limit, after, state }) {
      const { rows } = await db.query<DeliveryRow>(
        `SELECT id, webhook_id, event_id, event_type, state, attempts, last_status, last_error, created_at,
                last_attempt_at, next_attempt_at, completed_at
           FROM webhook_deliveries
          WHERE tenant_id = $1 AND webhook_id = $2 AND ($3::text IS NULL OR state = $3)
            AND ($4::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM webhook_deliveries
                                                         WHERE id = $4::uuid))
          ORDER BY created_at DESC, id DESC LIMIT $5`,
        [tenantId, webhookId, state ?? null, after ?? null, limit],
      );
      return rows.map(toDelivery);
    },
    async purgeBefore(cutoff) {
      const { rowCount } = await db.query(
        `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND completed_at < $1`,
        [cutoff],
      );
      return rowCount ?? 0;
    },
  };
}
