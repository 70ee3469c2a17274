-- Why a call ended, in words (not registered, tenant concurrent limit, media relay failed, media timeout …):
-- every call attempt that passed authentication has a CDR, and the SIP code alone does not tell these apart.
ALTER TABLE cdrs ADD COLUMN reason text;
