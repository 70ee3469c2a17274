/** PostgreSQL unique_violation (SQLSTATE 23505), from node-postgres and PGlite alike. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

export const DEFAULT_PAGE = 50;

export function pageLimit(limit: number | undefined): number {
  return limit ?? DEFAULT_PAGE;
}
