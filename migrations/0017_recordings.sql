-- Call recording (docs/api.md, "Recordings"). The policy of a tenant, a user and a route: 'off' (never
-- recorded, the API cannot start one), 'always' (the gateway asks the relay to record at call setup),
-- 'on-demand' (started and stopped through the API). A user's or a route's NULL is the tenant's; a set one
-- wins over the tenant's (the most specific wins).
ALTER TABLE tenants ADD COLUMN recording text NOT NULL DEFAULT 'off'
  CHECK (recording IN ('off', 'always', 'on-demand'));
ALTER TABLE sip_users ADD COLUMN recording text CHECK (recording IN ('off', 'always', 'on-demand'));
ALTER TABLE routes ADD COLUMN recording text CHECK (recording IN ('off', 'always', 'on-demand'));

-- One row per recording of a call (from its start to its stop, or the call's end): the files the relay stored
-- in the object store under `files` ([{ "name": "<tag>-1.wav", "key": "<date>/<call>/<tag>-1.wav" }, …]).
-- Written by the gateway that held the call once the relay has stored them; removed by the API's DELETE and
-- by the worker's retention job (VOXGATE_RECORDING_RETENTION_DAYS), which delete the files too.
CREATE TABLE recordings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  call_id text NOT NULL CHECK (length(call_id) BETWEEN 1 AND 300),
  started_at timestamptz NOT NULL,
  ended_at timestamptz NOT NULL,
  files jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX recordings_tenant_call ON recordings (tenant_id, call_id, started_at);
CREATE INDEX recordings_created_at ON recordings (created_at);
