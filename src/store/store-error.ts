/**
 * Errors of the relational store, with stable codes. Messages never contain credentials.
 * `STORE_UNAVAILABLE`: the database cannot serve now (connection refused or cut, server shutting down or out
 * of connections, store closed); the same request may succeed later. `STORE_INVALID_URL`: a PostgreSQL URL with
 * several servers that does not parse (postgres-url.ts says why). `STORE_DATA_DIR_IN_USE`: another live process
 * has the embedded database's folder open (folder-lock.ts).
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code:
      | 'STORE_UNREACHABLE'
      | 'STORE_UNAVAILABLE'
      | 'STORE_INVALID_URL'
      | 'STORE_MIGRATION_CHANGED'
      | 'STORE_MIGRATION_FAILED'
      | 'STORE_INVALID_TOKEN'
      | 'STORE_QUERY_FAILED'
      | 'STORE_DATA_DIR_IN_USE',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
