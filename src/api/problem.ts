import type { FastifyReply } from 'fastify';

/** Stable problem types of the API (RFC 9457 `type` URIs, relative to the API's docs): the one error catalog. */
export const problemTypes = {
  'validation-failed': { status: 400, title: 'The request is not valid' },
  unauthorized: { status: 401, title: 'Missing or invalid API key' },
  forbidden: { status: 403, title: 'The API key lacks the role for this operation' },
  'not-found': { status: 404, title: 'No such resource' },
  conflict: { status: 409, title: 'The resource already exists' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'unsupported-media-type': { status: 415, title: 'The request body must be application/json' },
  'rate-limited': { status: 429, title: 'Too many requests for this API key' },
  'internal-error': { status: 500, title: 'Internal error' },
} as const;
export type ProblemType = keyof typeof problemTypes;

/** The problem type for a status Fastify itself answered with (body parsing, limits). */
export function problemTypeForStatus(status: number): ProblemType {
  if (status === 413) return 'payload-too-large';
  if (status === 415) return 'unsupported-media-type';
  if (status === 429) return 'rate-limited';
  if (status === 404) return 'not-found';
  return status >= 500 ? 'internal-error' : 'validation-failed';
}

/** Sends an RFC 9457 `application/problem+json` response. */
export function sendProblem(
  reply: FastifyReply,
  type: ProblemType,
  detail: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  const { status, title } = problemTypes[type];
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="voxgate"');
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: `/problems/${type}`, title, status, detail, instance: reply.request.url, ...extra });
}
