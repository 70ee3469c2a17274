-- SIP users of a tenant. The password is never stored: only the digest HA1 values for the tenant's realm
-- (its SIP domain), one per algorithm (RFC 3261 §22.4 MD5, RFC 8760 SHA-256).

CREATE TABLE sip_users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  username text NOT NULL CHECK (username ~ '^[A-Za-z0-9_.!~*''()&=+$,;?/-]{1,64}$'),
  display_name text,
  ha1_md5 text NOT NULL CHECK (ha1_md5 ~ '^[0-9a-f]{32}$'),
  ha1_sha256 text NOT NULL CHECK (ha1_sha256 ~ '^[0-9a-f]{64}$'),
  enabled boolean NOT NULL DEFAULT true,
  max_concurrent_calls integer CHECK (max_concurrent_calls IS NULL OR max_concurrent_calls >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, username)
);
