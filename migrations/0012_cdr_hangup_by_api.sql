-- A call ended through the API (DELETE /v1/tenants/{tenantId}/calls/live/{callId}) is recorded as ended by
-- 'api', beside its parties and the gateway itself.
ALTER TABLE cdrs DROP CONSTRAINT cdrs_hangup_by_check;
ALTER TABLE cdrs ADD CONSTRAINT cdrs_hangup_by_check
  CHECK (hangup_by IN ('caller', 'callee', 'system', 'api'));
