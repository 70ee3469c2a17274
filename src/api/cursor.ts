/**
 * Opaque page cursors: the position of the last item of a page, as base64url JSON. Clients pass
 * `nextCursor` back as `after`; an unreadable cursor is the caller's error (undefined → 400).
 */
export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<T>(cursor: string, check: (value: unknown) => value is T): T | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return check(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
