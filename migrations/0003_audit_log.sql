-- Every mutation made through the API, written in the same transaction as the change: who (API key), what
-- (action, entity, before/after with secrets masked), when, from which address. Kept 12 months by default
-- (VOXGATE_AUDIT_RETENTION_DAYS), then purged by the worker's audit-retention job.

CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor_key_id text,
  tenant_id uuid,
  action text NOT NULL CHECK (action IN ('create', 'update', 'delete')),
  entity text NOT NULL,
  entity_id text NOT NULL,
  before jsonb,
  after jsonb,
  source_ip text
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at);
