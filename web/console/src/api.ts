// The console's only way to the platform: /v1 with the signed-in key (Authorization: Bearer), answers and
// RFC 9457 problems as the API gives them.

export type Role = 'viewer' | 'operator' | 'admin';

export interface Whoami {
  keyId: string;
  name: string;
  role: Role;
  tenantId: string | null;
}

export interface FieldProblem {
  where: string;
  pointer: string;
  detail: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldProblem[];
}

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
}

const KEY_ITEM = 'voxgate.console.apiKey';

export const session = {
  key(): string | null {
    return sessionStorage.getItem(KEY_ITEM);
  },
  save(key: string): void {
    sessionStorage.setItem(KEY_ITEM, key);
  },
  clear(): void {
    sessionStorage.removeItem(KEY_ITEM);
  },
};

async function problemOf(response: Response): Promise<Problem> {
  try {
    const body = (await response.json()) as Partial<Problem>;
    if (typeof body.type === 'string' && typeof body.status === 'number') return body as Problem;
  } catch {
    // Not JSON: described below from the status.
  }
  return { type: 'about:blank', title: response.statusText || 'request failed', status: response.status };
}

/** One request to the API; a problem is thrown as ApiError, 204 resolves to null. */
export async function api<T = Json>(
  method: string,
  path: string,
  body?: unknown,
  key: string | null = session.key(),
): Promise<T> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (response.status === 401 && key !== null && key === session.key()) {
    // The signed-in key was revoked (or the store replaced): back to the sign-in page.
    session.clear();
    window.location.reload();
  }
  if (!response.ok) throw new ApiError(await problemOf(response));
  if (response.status === 204 || response.status === 202) {
    const text = await response.text();
    return (text ? JSON.parse(text) : null) as T;
  }
  return (await response.json()) as T;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

/** Every item of a cursor-paged list, up to `max` (pages of 500). */
export async function listAll<T>(path: string, max = 5000): Promise<T[]> {
  const items: T[] = [];
  let after: string | null | undefined;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api<Page<T>>(
      'GET',
      `${path}${sep}limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`,
    );
    items.push(...page.items);
    after = page.nextCursor;
  } while (after && items.length < max);
  return items;
}

export function describe(err: unknown): string {
  if (err instanceof ApiError) return err.problem.detail ?? err.problem.title;
  return err instanceof Error ? err.message : String(err);
}

/** A Server-Sent Events stream read with fetch (EventSource cannot send the Authorization header). */
export function followEvents(
  path: string,
  onEvent: (type: string, data: JsonObject) => void,
  onState: (connected: boolean) => void,
): () => void {
  const controller = new AbortController();
  let stopped = false;
  const run = async () => {
    while (!stopped) {
      try {
        const response = await fetch(path, {
          headers: { authorization: `Bearer ${session.key() ?? ''}`, accept: 'text/event-stream' },
          signal: controller.signal,
        });
        if (!response.ok || !response.body) throw new ApiError(await problemOf(response));
        onState(true);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let type = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) type = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
            }
            if (data.length > 0) onEvent(type, JSON.parse(data.join('\n')) as JsonObject);
          }
        }
      } catch {
        if (stopped) return;
      }
      onState(false);
      if (!stopped) await new Promise((r) => setTimeout(r, 3000));
    }
  };
  void run();
  return () => {
    stopped = true;
    controller.abort();
  };
}
