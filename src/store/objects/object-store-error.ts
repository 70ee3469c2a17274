export class ObjectStoreError extends Error {
  override readonly name = 'ObjectStoreError';
  constructor(
    readonly code: 'OBJECT_STORE_BAD_KEY' | 'OBJECT_STORE_BAD_URL',
    message: string,
  ) {
    super(message);
  }
}
