-- When the call first rang: the first provisional response (18x) relayed to the caller. With started_at it gives
-- the post-dial delay; null for a call that never rang (refused, failed or cancelled before any 18x).
ALTER TABLE cdrs ADD COLUMN ringing_at timestamptz;
