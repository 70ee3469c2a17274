-- The digest challenges (RFC 8760) offered to a tenant's users, or to one user, in order of preference; NULL
-- inherits (user → tenant → VOXGATE_SIP_DIGEST_ALGORITHMS). A list names MD5 and SHA-256 at most once each.
ALTER TABLE tenants ADD COLUMN sip_digest_algorithms text[]
  CHECK (sip_digest_algorithms IN ('{MD5}', '{SHA-256}', '{MD5,SHA-256}', '{SHA-256,MD5}'));
ALTER TABLE sip_users ADD COLUMN sip_digest_algorithms text[]
  CHECK (sip_digest_algorithms IN ('{MD5}', '{SHA-256}', '{MD5,SHA-256}', '{SHA-256,MD5}'));
-- The gateway reads a realm's users with a list of their own at once (a few, usually none).
CREATE INDEX sip_users_own_digest_algorithms ON sip_users (tenant_id) WHERE sip_digest_algorithms IS NOT NULL;
