import type { FastifyReply } from 'fastify';

/** Stable problem types of the API (RFC 9457 `type` URIs, relative to the API's docs). */
export const problemTypes = {
  unauthorized: { status: 401, title: 'Missing or invalid API key' },
  forbidden: { status: 403, title: 'The API key lacks the role for this operation' },
  'not-found': { status: 404, title: 'No such resource' },
  conflict: { status: 409, title: 'The resource already exists' },
  'validation-failed': { status: 400, title: 'The request is not valid' },
  'internal-error': { status: 500, title: 'Internal error' },
} as const;
export type ProblemType = keyof typeof problemTypes;

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
