-- What the provisioning API manages beyond creation: a user's caller id, listing keys by scope, and the
-- retention purge of CDRs by start time across tenants.

ALTER TABLE sip_users ADD COLUMN caller_id text CHECK (caller_id IS NULL OR length(caller_id) BETWEEN 1 AND 64);

CREATE INDEX cdrs_started_at ON cdrs (started_at);

CREATE INDEX numbers_user_id ON numbers (user_id);
