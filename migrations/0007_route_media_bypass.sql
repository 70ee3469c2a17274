-- A route may leave a call's media unanchored (carriers that need no relay, or calls whose media must not
-- leave the carrier's network): the gateway then passes the SDP through unchanged.
ALTER TABLE routes ADD COLUMN media_bypass boolean NOT NULL DEFAULT false;
