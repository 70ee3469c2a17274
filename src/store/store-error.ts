/** Errors of the relational store, with stable codes. Messages never contain credentials. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code:
      | 'STORE_UNREACHABLE'
      | 'STORE_MIGRATION_CHANGED'
      | 'STORE_MIGRATION_FAILED'
      | 'STORE_INVALID_TOKEN'
      | 'STORE_QUERY_FAILED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
