import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendProblem } from './problem.js';

export interface ConsoleOptions {
  /** The folder `npm run build` writes the console into (dist/console). */
  dir: string;
  /** The gateway's SIP over WebSocket ports, for the softphone (null: no such listener). */
  sipWebSocket: { port: number | null; securePort: number | null };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** The pages may talk to their own origin and to the gateway's WebSocket; nothing inline, nothing else. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Names the build writes: no path separator, no leading dot (no way out of the folder). */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

async function sendFile(reply: FastifyReply, dir: string, name: string): Promise<FastifyReply> {
  let body: Buffer;
  try {
    body = await readFile(join(dir, name));
  } catch {
    return sendProblem(
      reply,
      'not-found',
      name.endsWith('.html') ? 'the web console is not built: run npm run build' : `no console file ${name}`,
    );
  }
  return reply
    .type(TYPES[extname(name)] ?? 'application/octet-stream')
    .header('cache-control', 'no-cache')
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .send(body);
}

/**
 * The web console: `/console` (the single-page app, its views chosen by the URL's fragment), `/console/phone`
 * (the browser softphone), their built files under `/console/assets/`, and `/console/config.json`, the little
 * the pages need before anyone signs in (where the gateway's SIP WebSocket listens). Everything else the
 * console does goes through `/v1` with the key it is given.
 */
export function registerConsole(app: FastifyInstance, options: ConsoleOptions): void {
  const hide = { schema: { hide: true } };
  app.get('/console', hide, (_request, reply) => sendFile(reply, options.dir, 'index.html'));
  app.get('/console/', hide, (_request, reply) => sendFile(reply, options.dir, 'index.html'));
  app.get('/console/phone', hide, (_request, reply) => sendFile(reply, options.dir, 'phone.html'));
  app.get<{ Params: { name: string } }>('/console/assets/:name', hide, (request, reply) => {
    const { name } = request.params;
    if (!ASSET_NAME.test(name) || name.endsWith('.html')) {
      return sendProblem(reply, 'not-found', `no console file ${name}`);
    }
    return sendFile(reply, join(options.dir, 'assets'), name);
  });
  app.get('/console/config.json', hide, (_request, reply) =>
    reply.header('cache-control', 'no-cache').send({ sipWebSocket: options.sipWebSocket }),
  );
}
