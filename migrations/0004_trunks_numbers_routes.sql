-- Carriers (SIP trunks), the numbers (DIDs) they deliver, and the routes that send calls out through them.

-- A trunk is matched for inbound calls by its source CIDRs; outbound calls go to host:port over transport and
-- answer the carrier's digest challenge with username/password. The password must be usable to answer a
-- challenge, so unlike users' passwords it cannot be stored as a hash: the API never returns it and the
-- audit log masks it.
CREATE TABLE trunks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  host text NOT NULL CHECK (host ~ '^[A-Za-z0-9.:-]{1,253}$'),
  port integer NOT NULL DEFAULT 5060 CHECK (port BETWEEN 1 AND 65535),
  transport text NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp', 'tls')),
  username text,
  password text,
  inbound_cidrs cidr[] NOT NULL DEFAULT '{}',
  register boolean NOT NULL DEFAULT false,
  enabled boolean NOT NULL DEFAULT true,
  max_concurrent_calls integer CHECK (max_concurrent_calls IS NULL OR max_concurrent_calls >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name),
  CHECK ((username IS NULL) = (password IS NULL))
);

CREATE INDEX trunks_tenant_id ON trunks (tenant_id);

-- A DID in E.164 form and the user it rings; a number belongs to one tenant.
CREATE TABLE numbers (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  e164 text NOT NULL UNIQUE CHECK (e164 ~ '^\+[1-9][0-9]{1,14}$'),
  user_id uuid REFERENCES sip_users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX numbers_tenant_id ON numbers (tenant_id);

-- Outbound routes: the dialled number must match `pattern` (a regular expression, whole number); it is
-- rewritten (strip_digits removed from the front, prefix prepended) and sent over the route's trunks in order.
CREATE TABLE routes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  pattern text NOT NULL CHECK (length(pattern) BETWEEN 1 AND 200),
  priority integer NOT NULL DEFAULT 100,
  strip_digits integer NOT NULL DEFAULT 0 CHECK (strip_digits BETWEEN 0 AND 15),
  prefix text NOT NULL DEFAULT '' CHECK (prefix ~ '^\+?[0-9]{0,15}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

CREATE INDEX routes_tenant_priority ON routes (tenant_id, priority);

CREATE TABLE route_trunks (
  route_id uuid NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
  trunk_id uuid NOT NULL REFERENCES trunks (id) ON DELETE CASCADE,
  position integer NOT NULL CHECK (position >= 0),
  PRIMARY KEY (route_id, position),
  UNIQUE (route_id, trunk_id)
);
