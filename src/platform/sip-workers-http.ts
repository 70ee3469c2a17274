import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import { problemBody, type ProblemType } from '../api/problem.js';
import type { Logger } from '../observability/index.js';
import type { ReadinessReport } from './module.js';

/**
 * The HTTP listener of the primary of several SIP workers, on the address and port every target serves
 * `/healthz`, `/readyz` and `/metrics` on (VOXGATE_API_HOST, VOXGATE_API_PORT): `/metrics` is every worker's
 * registry merged (prom-client's cluster aggregation: counters, histograms and gauges summed across the
 * workers unless a metric says otherwise), so one scrape sees the whole gateway whichever worker a connection
 * would have reached; `/readyz` is ready once every worker's SIP listener is open. The workers' own listeners
 * are on loopback ports of their own (sip-workers.ts).
 */
export interface SipWorkersHttp {
  readonly address: string;
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

export async function serveSipWorkersHttp(options: {
  host: string;
  port: number;
  readiness: () => Promise<ReadinessReport>;
  logger: Logger;
}): Promise<SipWorkersHttp> {
  const { readiness, logger } = options;
  const aggregator = new AggregatorRegistry();
  const send = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  // The problems are the API's catalog entries (src/api/problem.ts), as the single-process listener answers.
  const problem = (res: ServerResponse, type: ProblemType, detail: string, path: string) => {
    const body = problemBody(type, detail, path);
    send(res, body.status, 'application/problem+json; charset=utf-8', JSON.stringify(body));
  };
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return problem(res, 'method-not-allowed', `${req.method ?? ''} is not served here`, path);
    }
    if (path === '/healthz') return send(res, 200, JSON_TYPE, JSON.stringify({ status: 'ok' }));
    if (path === '/readyz') {
      const report = await readiness();
      const body = { status: report.ready ? 'ready' : 'not ready', ...report };
      return send(res, report.ready ? 200 : 503, JSON_TYPE, JSON.stringify(body));
    }
    if (path === '/metrics') {
      try {
        return send(res, 200, aggregator.contentType, await aggregator.clusterMetrics());
      } catch (err) {
        // A worker that did not answer within prom-client's 5 s (stuck, or dying during the scrape).
        logger.warn({ err }, 'SIP workers: /metrics could not be gathered from every worker');
        res.setHeader('retry-after', '5');
        return problem(res, 'metrics-unavailable', 'a SIP worker did not answer with its metrics', path);
      }
    }
    return problem(res, 'not-found', `${path} is not served by the SIP workers' primary`, path);
  };
  const server: Server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      logger.error({ err }, 'SIP workers: HTTP request failed');
      if (!res.headersSent) problem(res, 'internal-error', 'the request failed', req.url ?? '/');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const address =
    typeof bound === 'object' && bound
      ? `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`
      : String(bound);
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
