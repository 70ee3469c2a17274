import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyRecord, ApiKeyRepository } from '../store/index.js';
import { sendProblem } from './problem.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKeyRecord;
  }
}

/** A preHandler that accepts `Authorization: Bearer <key>` and attaches the verified key to the request. */
export function bearerAuth(apiKeys: ApiKeyRepository) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) return sendProblem(reply, 'unauthorized', 'send Authorization: Bearer <api key>');
    const key = await apiKeys.verify(match[1]);
    if (!key) return sendProblem(reply, 'unauthorized', 'the API key is unknown, malformed or revoked');
    request.apiKey = key;
    return undefined;
  };
}
