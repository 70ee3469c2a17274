-- Whether the media of a user's, a trunk's or a route's calls is encrypted (SDES-SRTP, RFC 4568): 'auto' leaves
-- it to the offer (the relay answers each party in the profile it used), 'none' is plain RTP/AVP, 'sdes' is
-- SRTP with a=crypto keys (RTP/SAVP). 'dtls' (DTLS-SRTP) may join the list later.
ALTER TABLE sip_users ADD COLUMN media_encryption text NOT NULL DEFAULT 'auto'
  CHECK (media_encryption IN ('auto', 'none', 'sdes'));
ALTER TABLE trunks ADD COLUMN media_encryption text NOT NULL DEFAULT 'auto'
  CHECK (media_encryption IN ('auto', 'none', 'sdes'));
ALTER TABLE routes ADD COLUMN media_encryption text NOT NULL DEFAULT 'auto'
  CHECK (media_encryption IN ('auto', 'none', 'sdes'));
