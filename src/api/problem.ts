import type { FastifyReply } from 'fastify';

/** Stable problem types of the API (RFC 9457 `type` URIs, relative to the API's docs): the one error catalog. */
export const problemTypes = {
  'validation-failed': { status: 400, title: 'The request is not valid' },
  unauthorized: { status: 401, title: 'Missing or invalid API key' },
  forbidden: { status: 403, title: 'The API key lacks the role for this operation' },
  'not-found': { status: 404, title: 'No such resource' },
  'method-not-allowed': { status: 405, title: 'The method is not served on this path' },
  'request-timeout': { status: 408, title: 'The request was not received in time' },
  conflict: { status: 409, title: 'The resource already exists' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'uri-too-long': { status: 414, title: 'A path segment of the request is too long' },
  'unsupported-media-type': { status: 415, title: 'The request body must be application/json' },
  'rate-limited': { status: 429, title: 'Too many requests for this API key' },
  'headers-too-large': { status: 431, title: 'The request headers are too large' },
  'internal-error': { status: 500, title: 'Internal error' },
  'store-unavailable': { status: 503, title: 'The database is unavailable; retry later' },
  'metrics-unavailable': { status: 503, title: 'A SIP worker did not answer with its metrics; retry later' },
} as const;
export type ProblemType = keyof typeof problemTypes;

/** Seconds a client is asked to wait (`Retry-After`) when the database is unavailable. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/** The problem type for a client error Fastify itself answered with (body parsing, limits, routing). */
export function problemTypeForStatus(status: number): ProblemType {
  if (status >= 500) return 'internal-error';
  const known = Object.entries(problemTypes).find(([, p]) => p.status === status);
  return known ? (known[0] as ProblemType) : 'validation-failed';
}

/** The RFC 9457 body of a problem. */
export function problemBody(type: ProblemType, detail: string, instance?: string) {
  const { status, title } = problemTypes[type];
  return {
    type: `/problems/${type}`,
    title,
    status,
    detail,
    ...(instance === undefined ? {} : { instance }),
  };
}

/** Sends an RFC 9457 `application/problem+json` response. */
export function sendProblem(
  reply: FastifyReply,
  type: ProblemType,
  detail: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  const { status } = problemTypes[type];
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="voxgate"');
  if (status === 503) reply.header('retry-after', String(STORE_RETRY_AFTER_SECONDS));
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ ...problemBody(type, detail, reply.request.url), ...extra });
}
