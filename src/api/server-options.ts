import type { FastifyError, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { problemOnClientError } from './client-error-handler.js';
import { problemTypeForStatus, sendProblem } from './problem.js';
import { CALL_ID_MAX_LENGTH } from './schemas.js';

/**
 * The longest path segment routed, as sent (percent-encoded: up to 3 characters per character): the longest
 * path parameter a schema accepts, a Call-ID, fully encoded. A longer segment is a 414 problem; a shorter one
 * too long for its schema a 400 naming the parameter.
 */
export const MAX_PATH_SEGMENT = 3 * CALL_ID_MAX_LENGTH;

/**
 * What the API needs of the HTTP server it is mounted on, given when the server is created: path parameters
 * as long as the schemas allow, and RFC 9457 problems for what is refused before any route runs: by the
 * router (a segment over `MAX_PATH_SEGMENT`: 414, a malformed percent-encoding: 400) and by the HTTP parser
 * (malformed HTTP 400, headers too large 431, too slow 408).
 */
export const apiServerOptions = {
  routerOptions: { maxParamLength: MAX_PATH_SEGMENT },
  clientErrorHandler: problemOnClientError,
  frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
    if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
      return sendProblem(
        reply,
        'uri-too-long',
        `a path segment is longer than ${MAX_PATH_SEGMENT} characters`,
      );
    }
    return sendProblem(reply, problemTypeForStatus(error.statusCode ?? 500), error.message);
  },
} satisfies Pick<FastifyServerOptions, 'routerOptions' | 'frameworkErrors' | 'clientErrorHandler'>;
