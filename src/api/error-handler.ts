import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isBackendUnavailable } from '../store/index.js';
import { problemTypeForStatus, sendProblem, STORE_RETRY_AFTER_SECONDS } from './problem.js';
import { invalidMembers } from './validation-problem.js';

/**
 * The API's error handler: RFC 9457 for every failure. Schema validation is a 400 naming each invalid member
 * (`errors: [{where, pointer, detail}]`); what Fastify refuses itself keeps its 4xx (unreadable JSON 400,
 * oversize 413, wrong media type 415); an unavailable database or Redis is a 503 with `Retry-After`; anything else is
 * a 500, logged.
 */
export function apiErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (err.validation) {
    const { detail, errors } = invalidMembers(err.validation, err.validationContext);
    return sendProblem(reply, 'validation-failed', detail, { errors });
  }
  // The database, or Redis (shared state: rate limits, live calls, registrations), cannot serve now.
  if (isBackendUnavailable(err)) {
    request.log.warn({ reason: err.message }, 'API request failed: database or shared state unavailable');
    return sendProblem(
      reply,
      'store-unavailable',
      `the database or shared state is unavailable; retry in ${STORE_RETRY_AFTER_SECONDS} seconds`,
    );
  }
  if (err.statusCode !== undefined && err.statusCode < 500)
    return sendProblem(reply, problemTypeForStatus(err.statusCode), err.message);
  request.log.error({ err }, 'API request failed');
  return sendProblem(reply, 'internal-error', 'the request failed; the error is logged');
}
