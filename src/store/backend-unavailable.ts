import { StoreError } from './store-error.js';

/**
 * Whether a request failed because a backend it needs cannot serve now — the relational store
 * (`STORE_UNAVAILABLE`) or Redis (ioredis gave up retrying, or the connection is closed) — rather than because
 * of a defect. RFC 3261 §21.5.4: such a request is answered 503 with Retry-After, "the server is temporarily
 * unable to process the request", so that clients retry later or elsewhere, not 500.
 */
export function isBackendUnavailable(err: unknown): boolean {
  if (err instanceof StoreError) return err.code === 'STORE_UNAVAILABLE' || err.code === 'STORE_UNREACHABLE';
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    err.name === 'ClusterAllFailedError' ||
    /^Connection is closed\.?$/.test(err.message) ||
    /^Stream isn't writeable/.test(err.message)
  );
}
