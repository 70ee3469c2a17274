-- Call detail records, written by the worker from the gateway's `ended` call events (at least once, so
-- idempotent by call id: the caller-side Call-ID).
CREATE TABLE cdrs (
  call_id text PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  direction text NOT NULL CHECK (direction IN ('internal', 'inbound', 'outbound')),
  from_party text NOT NULL,
  to_party text NOT NULL,
  trunk_id uuid REFERENCES trunks (id) ON DELETE SET NULL,
  started_at timestamptz NOT NULL,
  answered_at timestamptz,
  ended_at timestamptz NOT NULL,
  -- Billable seconds: from the answer to the end, 0 for unanswered calls.
  duration_seconds integer NOT NULL CHECK (duration_seconds >= 0),
  disposition text NOT NULL
    CHECK (disposition IN ('answered', 'busy', 'no-answer', 'cancelled', 'rejected', 'failed', 'limited')),
  sip_code integer CHECK (sip_code BETWEEN 100 AND 699),
  hangup_by text CHECK (hangup_by IN ('caller', 'callee', 'system')),
  media jsonb,
  gateway text,
  recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX cdrs_tenant_started ON cdrs (tenant_id, started_at DESC, call_id);
