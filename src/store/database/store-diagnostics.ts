import { channel } from 'node:diagnostics_channel';

/** Tracing hook, one message per query sent to the database (either implementation): `StoreQueryEvent`. */
export const storeQueryChannel = channel('voxgate:store:query');

export interface StoreQueryEvent {
  readonly database: 'pglite' | 'postgres';
  readonly ok: boolean;
  readonly durationMs: number;
}

/** Wraps a query function so that each call is timed on `storeQueryChannel` (nothing when unobserved). */
export function observed<A extends unknown[], T>(
  database: StoreQueryEvent['database'],
  fn: (...args: A) => Promise<T>,
): (...args: A) => Promise<T> {
  return async (...args) => {
    if (!storeQueryChannel.hasSubscribers) return fn(...args);
    const began = performance.now();
    let ok = false;
    try {
      const value = await fn(...args);
      ok = true;
      return value;
    } finally {
      storeQueryChannel.publish({
        database,
        ok,
        durationMs: performance.now() - began,
      } satisfies StoreQueryEvent);
    }
  };
}

/**
 * Which server of a multi-host PostgreSQL URL the store uses (`StoreServerEvent`): one chosen (with the one
 * before it, when it changed), one let go (gone or refusing writes), or none acceptable.
 */
export const storeServerChannel = channel('voxgate:store:server');

export type StoreServerEvent =
  | { readonly kind: 'chosen'; readonly server: string; readonly previous?: string }
  | { readonly kind: 'lost'; readonly server: string; readonly reason: string }
  | { readonly kind: 'none'; readonly reason: string };
