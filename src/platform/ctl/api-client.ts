import { printable } from './printable.js';

/**
 * The HTTP client of `voxgate ctl`: GET and DELETE requests to the provisioning API with a bearer key, answers
 * parsed as JSON, and Server-Sent Events streams read message by message. Every failure becomes a CtlError whose message is one line: an RFC 9457 problem's status, title and
 * detail; an unreachable API named by its URL.
 */

/** A failure `voxgate ctl` reports as one line on stderr, then exits with `exitCode`. */
export class CtlError extends Error {
  override readonly name = 'CtlError';
  readonly exitCode: number;
  /** The HTTP status of an error answer. */
  readonly status: number | undefined;
  /** The API could not be reached or could not serve now: a follower such as `tail` may retry. */
  readonly transient: boolean;
  constructor(message: string, options: { exitCode?: number; status?: number; transient?: boolean } = {}) {
    super(message);
    this.exitCode = options.exitCode ?? 1;
    this.status = options.status;
    this.transient = options.transient ?? false;
  }
}

/** Exit code for a usage or configuration error (sysexits EX_CONFIG, as the rest of the CLI). */
export const EXIT_USAGE = 78;

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';
const REQUEST_TIMEOUT_MS = 10_000;

export type Query = Readonly<Record<string, string | number | undefined>>;

/** One Server-Sent Events message: its `event` field (`message` when none) and its `data` lines joined. */
export interface StreamMessage {
  type: string;
  data: string;
}

/**
 * A stream that sends nothing, not even its keepalive comment (every 15 s), for this long is taken as dead: a
 * connection cut without a FIN (a proxy or NAT dropping it) would otherwise be waited on forever.
 */
export const STREAM_IDLE_MS = 45_000;

export interface ApiClient {
  /** The API's base URL as given (no trailing slash). */
  readonly baseUrl: string;
  /** GET `path` (e.g. `/v1/whoami`) with `query`; the parsed JSON body of a 2xx answer. */
  get<T>(path: string, query?: Query): Promise<T>;
  /** DELETE `path` with `query`; the parsed JSON body of a 2xx answer, undefined when it has none (204). */
  delete<T>(path: string, query?: Query): Promise<T | undefined>;
  /**
   * GET `path` as a Server-Sent Events stream: resolves once the API answered 2xx (a CtlError as for `get`
   * otherwise), then yields its messages until it ends; an idle or broken stream ends with a transient CtlError.
   */
  events(path: string): Promise<AsyncIterable<StreamMessage>>;
}

/** Reads `VOXGATE_API_URL` (default http://127.0.0.1:8080) and `VOXGATE_API_KEY` (required). */
export function apiSettings(env: Record<string, string | undefined>): { baseUrl: string; key: string } {
  const key = env.VOXGATE_API_KEY?.trim();
  if (!key) {
    throw new CtlError(
      'VOXGATE_API_KEY is not set: export an API key (the platform admin key printed on first start, or a tenant key)',
      { exitCode: EXIT_USAGE },
    );
  }
  const given = env.VOXGATE_API_URL?.trim() || DEFAULT_API_URL;
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new CtlError(`VOXGATE_API_URL=${given} is not a URL (e.g. ${DEFAULT_API_URL})`, {
      exitCode: EXIT_USAGE,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CtlError(`VOXGATE_API_URL=${given} is not an http or https URL`, { exitCode: EXIT_USAGE });
  }
  return { baseUrl: given.replace(/\/+$/, ''), key };
}

/** Why a request did not get an answer, from the error fetch throws (its `cause` carries the system error). */
function unreachable(baseUrl: string, err: unknown): CtlError {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return new CtlError(`no answer from the API at ${baseUrl} within ${REQUEST_TIMEOUT_MS / 1000} s`, {
      transient: true,
    });
  }
  const cause = err instanceof Error ? err.cause : undefined;
  const code = cause instanceof Error && 'code' in cause ? String(cause.code) : undefined;
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'host not found'
        : printable(
            cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err),
          );
  return new CtlError(`cannot reach the API at ${baseUrl}: ${why} (is voxgate running? VOXGATE_API_URL)`, {
    transient: true,
  });
}

/** An error answer as one line: a problem's status, title and detail, else the status and the body's start. */
function refused(status: number, body: string, contentType: string): CtlError {
  const options = { status, transient: status === 429 || status >= 500 };
  if (/json/i.test(contentType)) {
    try {
      const problem = JSON.parse(body) as { title?: unknown; detail?: unknown };
      const title = typeof problem.title === 'string' ? printable(problem.title) : `HTTP ${status}`;
      const detail = typeof problem.detail === 'string' ? printable(problem.detail) : '';
      return new CtlError(`${status} ${title}${detail ? `: ${detail}` : ''}`, options);
    } catch {
      // Not JSON after all: reported by its status below.
    }
  }
  const start = printable(body.replace(/\s+/g, ' ').trim()).slice(0, 120);
  return new CtlError(`HTTP ${status} from the API${start ? `: ${start}` : ''}`, options);
}

export function createApiClient(options: {
  baseUrl: string;
  key: string;
  /** Ends requests in flight (a follower being stopped). */
  signal?: AbortSignal;
}): ApiClient {
  const { baseUrl, key, signal } = options;
  /** One request; the body of a 2xx answer as text. */
  const send = async (method: 'GET' | 'DELETE', path: string, query: Query): Promise<string> => {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query))
      if (value !== undefined) params.set(name, String(value));
    const search = params.size > 0 ? `?${params.toString()}` : '';
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    let response: Response;
    let body: string;
    try {
      response = await fetch(`${baseUrl}${path}${search}`, {
        method,
        headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      body = await response.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw unreachable(baseUrl, err);
    }
    if (!response.ok) throw refused(response.status, body, response.headers.get('content-type') ?? '');
    return body;
  };
  const events = async (path: string): Promise<AsyncIterable<StreamMessage>> => {
    const cut = new AbortController();
    // Until the answer's headers: the request timeout; then: the idle limit, reset by every chunk.
    let timer = setTimeout(() => cut.abort(new DOMException('timeout', 'TimeoutError')), REQUEST_TIMEOUT_MS);
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' },
        signal: signal ? AbortSignal.any([signal, cut.signal]) : cut.signal,
      });
    } catch (err) {
      clearTimeout(timer);
      if (signal?.aborted) throw signal.reason;
      throw unreachable(baseUrl, cut.signal.aborted ? cut.signal.reason : err);
    }
    clearTimeout(timer);
    if (!response.ok || !response.body) {
      const body = await response.text().catch(() => '');
      throw refused(response.status, body, response.headers.get('content-type') ?? '');
    }
    const body = response.body;
    async function* messages(): AsyncGenerator<StreamMessage> {
      const idle = () => {
        clearTimeout(timer);
        timer = setTimeout(() => cut.abort(new Error('idle')), STREAM_IDLE_MS);
      };
      idle();
      let buffer = '';
      try {
        for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
          idle();
          buffer += chunk.replaceAll('\r\n', '\n');
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let type = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) type = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (data.length > 0) yield { type, data: data.join('\n') };
          }
        }
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const why = cut.signal.aborted
          ? `nothing came for ${STREAM_IDLE_MS / 1000} s`
          : printable(err instanceof Error ? err.message : String(err));
        throw new CtlError(`the event stream of ${baseUrl} broke: ${why}`, { transient: true });
      } finally {
        clearTimeout(timer);
        cut.abort();
      }
      throw new CtlError(`the API at ${baseUrl} ended the event stream`, { transient: true });
    }
    return messages();
  };
  const parse = <T>(path: string, body: string): T => {
    try {
      return JSON.parse(body) as T;
    } catch {
      throw new CtlError(`the answer of ${baseUrl}${path} is not JSON: is VOXGATE_API_URL a voxgate API?`);
    }
  };
  return {
    baseUrl,
    async get<T>(path: string, query: Query = {}): Promise<T> {
      return parse<T>(path, await send('GET', path, query));
    },
    async delete<T>(path: string, query: Query = {}): Promise<T | undefined> {
      const body = await send('DELETE', path, query);
      return body === '' ? undefined : parse<T>(path, body);
    },
    events,
  };
}
