-- Where calls to a user's registered phones go (and, for trunks, where requests to the carrier go once it has
-- told us an address): 'auto' decides per REGISTER whether the UA is behind NAT (the Contact otherwise),
-- 'force' always uses the address and flow the REGISTER came from, 'off' always the Contact.
ALTER TABLE sip_users ADD COLUMN nat text NOT NULL DEFAULT 'auto' CHECK (nat IN ('auto', 'force', 'off'));
ALTER TABLE trunks ADD COLUMN nat text NOT NULL DEFAULT 'auto' CHECK (nat IN ('auto', 'force', 'off'));
