-- mediaEncryption 'dtls': DTLS-SRTP (RFC 5764, UDP/TLS/RTP/SAVP(F) with a=fingerprint), what browsers speak
-- and some phones (baresip's dtls_srtp) can: calls to such a user, trunk or route are offered DTLS-SRTP by the
-- relay, and its calls must offer it.
ALTER TABLE sip_users DROP CONSTRAINT sip_users_media_encryption_check,
  ADD CONSTRAINT sip_users_media_encryption_check CHECK (media_encryption IN ('auto', 'none', 'sdes', 'dtls'));
ALTER TABLE trunks DROP CONSTRAINT trunks_media_encryption_check,
  ADD CONSTRAINT trunks_media_encryption_check CHECK (media_encryption IN ('auto', 'none', 'sdes', 'dtls'));
ALTER TABLE routes DROP CONSTRAINT routes_media_encryption_check,
  ADD CONSTRAINT routes_media_encryption_check CHECK (media_encryption IN ('auto', 'none', 'sdes', 'dtls'));
