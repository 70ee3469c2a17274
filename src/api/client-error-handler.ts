import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { problemBody, problemTypes, type ProblemType } from './problem.js';

/** The problem for what Node's HTTP parser refuses before Fastify sees a request. */
function problemOf(code: string | undefined): { type: ProblemType; detail: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return { type: 'request-timeout', detail: 'the request was not complete in time' };
  if (code === 'HPE_HEADER_OVERFLOW')
    return { type: 'headers-too-large', detail: 'the request headers exceed the size allowed' };
  return { type: 'validation-failed', detail: 'the request is not valid HTTP' };
}

/**
 * Answers a request the HTTP parser refused (malformed, headers too large, too slow) with an RFC 9457 problem
 * written on the socket, which is then closed, as Node and Fastify do with their plain bodies.
 */
export function problemOnClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { type, detail } = problemOf(err.code);
  const { status } = problemTypes[type];
  const body = JSON.stringify(problemBody(type, detail));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
        `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
