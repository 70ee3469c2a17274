-- Per-tenant webhooks: subscriptions (where a tenant's events are POSTed, signed with the secret) and the log
-- of their deliveries, which the worker writes and retries (docs/api.md, "Webhooks").

-- The secret signs each delivery (HMAC-SHA256); like a trunk's password it must be usable, so it is stored as
-- given, returned only by the request that created or set it, and masked in the audit log.
CREATE TABLE webhooks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
  events text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 20),
  secret text NOT NULL CHECK (length(secret) BETWEEN 16 AND 200),
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhooks_tenant_id ON webhooks (tenant_id, created_at, id);

-- One row per (event, subscription): the event itself (what is POSTed, the same bytes on every attempt), the
-- attempts made, the last answer (HTTP status) or error, and when the next attempt is due. `state` is
-- `pending` until the receiver answers 2xx (`delivered`) or the retry period runs out (`failed`).
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
  event_type text NOT NULL CHECK (length(event_type) BETWEEN 1 AND 100),
  payload text NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_status integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  next_attempt_at timestamptz,
  last_attempt_at timestamptz,
  completed_at timestamptz,
  UNIQUE (webhook_id, event_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
