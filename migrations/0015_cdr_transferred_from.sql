-- A call a transfer made (REFER, or POST /v1/tenants/{tenantId}/calls/live/{callId}/transfer) is a CDR of its
-- own, naming the call it came from; that call's CDR ends with reason 'transferred'.
ALTER TABLE cdrs ADD COLUMN transferred_from text;
