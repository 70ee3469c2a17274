import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Counters } from '../store/shared-state/index.js';
import { sendProblem } from './problem.js';

const WINDOW_SEC = 60;

/**
 * A preHandler (after authentication) that allows each API key `perMinute` requests per fixed minute, counted
 * in shared state so that every API replica counts against the same budget. 0 turns it off. Answers carry
 * `RateLimit-Limit`/`RateLimit-Remaining`; a refused request gets 429 with `Retry-After`.
 */
export function rateLimitPerKey(counters: Pick<Counters, 'hit'>, perMinute: number) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const key = request.apiKey;
    if (perMinute <= 0 || !key) return undefined;
    const used = await counters.hit(`api-rate:${key.id}`, WINDOW_SEC);
    const resetSec = WINDOW_SEC - (Math.floor(Date.now() / 1000) % WINDOW_SEC);
    reply.header('ratelimit-limit', String(perMinute));
    reply.header('ratelimit-remaining', String(Math.max(0, perMinute - used)));
    reply.header('ratelimit-reset', String(resetSec));
    if (used <= perMinute) return undefined;
    reply.header('retry-after', String(resetSec));
    return sendProblem(reply, 'rate-limited', `this key may make ${perMinute} requests a minute`);
  };
}
