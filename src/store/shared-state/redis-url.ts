import { SharedStateError } from './shared-state.js';

export type RedisTarget =
  | { mode: 'standalone'; url: string; display: string }
  | {
      mode: 'cluster';
      nodes: { host: string; port: number }[];
      username?: string;
      password?: string;
      tls: boolean;
      display: string;
    }
  | {
      mode: 'sentinel';
      sentinels: { host: string; port: number }[];
      masterName: string;
      username?: string;
      password?: string;
      display: string;
    };

/**
 * Reads VOXGATE_REDIS_URL: `redis://` and `rediss://` (one server), `redis+cluster://h1:p1,h2:p2` (Redis
 * Cluster seed nodes; `rediss+cluster://` for TLS), `redis+sentinel://h1:p1,h2:p2/<master name>` (Sentinel).
 * `display` is the target without credentials, for messages.
 */
export function parseRedisUrl(url: string): RedisTarget {
  const m = /^(rediss?)(\+cluster|\+sentinel)?:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)(\/[^?#]*)?$/.exec(
    url,
  );
  if (!m)
    throw invalid(
      url,
      'expected redis://host:port, redis+cluster://h1:p1,h2:p2 or redis+sentinel://h1:p1/master',
    );
  const [, scheme, variant, user, pass, hostList = '', path = ''] = m;
  const username = user ? decodeURIComponent(user) : undefined;
  const password = pass ? decodeURIComponent(pass) : undefined;
  const hosts = hostList.split(',').map((h) => parseHost(h, url));
  const display = `${scheme}${variant ?? ''}://${hostList}${path}`;
  if (!variant) {
    if (hosts.length !== 1)
      throw invalid(url, 'a redis:// URL names one server; use redis+cluster:// for several');
    return { mode: 'standalone', url, display };
  }
  if (variant === '+cluster')
    return { mode: 'cluster', nodes: hosts, username, password, tls: scheme === 'rediss', display };
  const masterName = path.replace(/^\//, '');
  if (!masterName) throw invalid(url, 'redis+sentinel:// needs the master name as path, e.g. /mymaster');
  return { mode: 'sentinel', sentinels: hosts, masterName, username, password, display };
}

function parseHost(value: string, url: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(value);
  const port = Number(m?.[2] ?? 6379);
  if (!m?.[1] || port < 1 || port > 65535) throw invalid(url, `'${value}' is not host[:port]`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

function invalid(url: string, why: string): SharedStateError {
  const safe = url.replace(/\/\/[^@/]*@/, '//****@');
  return new SharedStateError('SHARED_STATE_INVALID_URL', `invalid Redis URL ${safe}: ${why}`);
}
