-- Tenants and API keys: what the platform needs before anything is provisioned.

CREATE TABLE tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  sip_domain text NOT NULL UNIQUE,
  max_concurrent_calls integer CHECK (max_concurrent_calls IS NULL OR max_concurrent_calls >= 0),
  max_calls_per_second integer CHECK (max_calls_per_second IS NULL OR max_calls_per_second >= 0),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- An API key is `vxg_<id>_<secret>`: the id is public (it names the key in logs and the audit trail),
-- only the SHA-256 of the high-entropy secret is stored. tenant_id NULL = platform scope.
CREATE TABLE api_keys (
  id text PRIMARY KEY,
  tenant_id uuid REFERENCES tenants (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  name text NOT NULL,
  secret_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

CREATE INDEX api_keys_tenant_id ON api_keys (tenant_id);
