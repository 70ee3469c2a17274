/** SQLSTATE of a PostgreSQL error, from node-postgres and PGlite alike. */
function sqlState(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/** unique_violation (23505). */
export function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === '23505';
}

/** invalid_text_representation (22P02): e.g. a CIDR PostgreSQL does not accept. */
export function isInvalidText(err: unknown): boolean {
  return sqlState(err) === '22P02';
}

/** foreign_key_violation (23503). */
export function isForeignKeyViolation(err: unknown): boolean {
  return sqlState(err) === '23503';
}

export const DEFAULT_PAGE = 50;

export function pageLimit(limit: number | undefined): number {
  return limit ?? DEFAULT_PAGE;
}

/** The cursor of the next page: the last item's position when the page is full, else null (the end). */
export function nextCursor<T>(
  items: readonly T[],
  limit: number,
  position: (last: T) => string,
): string | null {
  const last = items.at(-1);
  return items.length === limit && last !== undefined ? position(last) : null;
}
