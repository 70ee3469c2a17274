/*
 * PostgreSQL connection URLs with several servers, in libpq's URI syntax (PostgreSQL docs, "Connection URIs":
 * "It is possible to specify multiple host components, each with an optional port component, in a single URI"),
 * which node-postgres and the WHATWG `URL` do not read (`new URL()` refuses a comma-separated host list):
 *
 *   url        = scheme "://" [ userinfo "@" ] hostlist [ "/" [ dbname ] ] [ "?" params ]
 *   scheme     = "postgres" / "postgresql"
 *   userinfo   = user [ ":" password ]                  ; percent-encoded
 *   hostlist   = hostspec *( "," hostspec )
 *   hostspec   = [ host ] [ ":" port ]                  ; no host: pg's default, only when it is the one server
 *   host       = name / IPv4address / "[" IPv6address "]"
 *   port       = 1*5DIGIT                               ; 1 to 65535, 5432 when left out
 *   dbname     = *( any character but "?" and "#" )     ; percent-encoded
 *   params     = param *( "&" param ) ; param = key "=" value, percent-encoded
 *
 * `target_session_attrs` (libpq, "Parameter Key Words") says which server of the list to keep: any (the
 * default), read-write, read-only, primary, standby, prefer-standby. The other parameters (sslmode,
 * application_name …) are passed to each server's connection unchanged. A fragment ("#…") is refused.
 */

/** libpq's modes of `target_session_attrs`. */
export const TARGET_SESSION_ATTRS = [
  'any',
  'read-write',
  'read-only',
  'primary',
  'standby',
  'prefer-standby',
] as const;
export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];

export interface PostgresServer {
  /** As written, IPv6 addresses with their brackets; empty for pg's default. */
  readonly host: string;
  readonly port: number;
}

export interface PostgresUrl {
  readonly scheme: 'postgres' | 'postgresql';
  /** `user[:password]` exactly as written (still percent-encoded), or empty. */
  readonly userinfo: string;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly servers: readonly PostgresServer[];
  readonly database: string | undefined;
  /** The path as written: empty, or "/" and the database name (still percent-encoded). */
  readonly path: string;
  /** Query parameters other than target_session_attrs as written (`key=value`, still encoded), in order. */
  readonly params: readonly string[];
  /** Whether target_session_attrs was written (a single server without it is connected to as before). */
  readonly targetSessionAttrsGiven: boolean;
  readonly targetSessionAttrs: TargetSessionAttrs;
}

/** A URL this parser refuses, with the one-line reason (never the password). */
export class PostgresUrlError extends Error {
  override readonly name = 'PostgresUrlError';
}

const SCHEME = /^(postgres|postgresql):\/\//;
const NAME = /^[A-Za-z0-9._~%!$'()*+;=-]*$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+(%25[A-Za-z0-9._~%-]+)?\]$/;

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new PostgresUrlError(`the ${what} has an invalid percent-encoding`);
  }
}

function parseServer(spec: string, index: number, count: number): PostgresServer {
  const which = count > 1 ? `host ${index + 1} of ${count}` : 'the host';
  let host = spec;
  let port: string | undefined;
  if (spec.startsWith('[')) {
    const end = spec.indexOf(']');
    if (end < 0) throw new PostgresUrlError(`${which} has an unclosed "[" (an IPv6 address is [addr]:port)`);
    host = spec.slice(0, end + 1);
    const rest = spec.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':'))
      throw new PostgresUrlError(`${which} has text after its IPv6 address "]" other than ":port"`);
    if (rest !== '') port = rest.slice(1);
    if (!IPV6.test(host)) throw new PostgresUrlError(`${which} is not a valid [IPv6] address`);
  } else {
    const colon = spec.indexOf(':');
    if (colon >= 0) {
      host = spec.slice(0, colon);
      port = spec.slice(colon + 1);
    }
    if (!NAME.test(host))
      throw new PostgresUrlError(`${which} has a character not allowed in a host name (IPv6 goes in [ ])`);
    decode(host, which);
    if (host === '' && count > 1) throw new PostgresUrlError(`${which} has no host name`);
  }
  if (port === undefined || port === '') {
    if (port === '' && count > 1) throw new PostgresUrlError(`${which} has ":" without a port number`);
    return { host, port: 5432 };
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
    throw new PostgresUrlError(`${which} has port "${port}": expected a number from 1 to 65535`);
  return { host, port: Number(port) };
}

/** Parses a postgres:// or postgresql:// URL with one or several servers; throws `PostgresUrlError`. */
export function parsePostgresUrl(url: string): PostgresUrl {
  const scheme = SCHEME.exec(url);
  if (!scheme) throw new PostgresUrlError('expected a URL starting with postgres:// or postgresql://');
  if (url.includes('#')) throw new PostgresUrlError('a PostgreSQL URL has no fragment ("#")');
  const rest = url.slice(scheme[0].length);
  const authorityEnd = rest.search(/[/?]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const tail = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  // The userinfo ends at the last "@": a password may hold an unencoded "@", a host never does.
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? '' : authority.slice(0, at);
  const hostlist = at < 0 ? authority : authority.slice(at + 1);
  const colon = userinfo.indexOf(':');
  const user = userinfo === '' ? undefined : decode(colon < 0 ? userinfo : userinfo.slice(0, colon), 'user');
  const password = colon < 0 ? undefined : decode(userinfo.slice(colon + 1), 'password');
  const specs = hostlist.split(',');
  if (specs.length > 1 && specs.some((s) => s === ''))
    throw new PostgresUrlError('the host list has an empty entry (two commas, or one at an end)');
  const servers = specs.map((s, i) => parseServer(s, i, specs.length));

  const query = tail.indexOf('?');
  const path = query < 0 ? tail : tail.slice(0, query);
  const database = path.length > 1 ? decode(path.slice(1), 'database name') : undefined;
  const params: string[] = [];
  let attrs: TargetSessionAttrs = 'any';
  let attrsGiven = false;
  for (const pair of query < 0 ? [] : tail.slice(query + 1).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new PostgresUrlError(`the query parameter "${pair.slice(0, 40)}" is not key=value`);
    const key = decode(pair.slice(0, eq), 'query parameter name');
    const value = decode(pair.slice(eq + 1).replaceAll('+', ' '), `value of ${key}`);
    if (key !== 'target_session_attrs') {
      params.push(pair);
      continue;
    }
    if (!(TARGET_SESSION_ATTRS as readonly string[]).includes(value))
      throw new PostgresUrlError(
        `target_session_attrs=${value.slice(0, 40)} is not one of ${TARGET_SESSION_ATTRS.join(', ')}`,
      );
    attrs = value as TargetSessionAttrs;
    attrsGiven = true;
  }
  return {
    scheme: scheme[1] as PostgresUrl['scheme'],
    userinfo,
    user,
    password,
    servers,
    database,
    path,
    params,
    targetSessionAttrsGiven: attrsGiven,
    targetSessionAttrs: attrs,
  };
}

/** `host:port` of a server for messages and logs. */
export function serverName(server: PostgresServer): string {
  return `${server.host || 'localhost'}:${server.port}`;
}

const queryString = (params: readonly string[]) => (params.length === 0 ? '' : `?${params.join('&')}`);

/**
 * A single-server URL for node-postgres: `server` in place of the host list, the same credentials, database
 * and parameters, without target_session_attrs (the choice of server is made above the driver).
 */
export function serverUrl(url: PostgresUrl, server: PostgresServer): string {
  const userinfo = url.userinfo === '' ? '' : `${url.userinfo}@`;
  const host = server.host || 'localhost';
  return `${url.scheme}://${userinfo}${host}:${server.port}${url.path}${queryString(url.params)}`;
}

/**
 * The URL as libpq's tools (pg_dump, pg_restore, psql) take it, with every server and target_session_attrs
 * (they choose the server themselves), without the password (give it as PGPASSWORD: a command line is
 * visible to `ps`), optionally naming another database.
 */
export function libpqUrl(url: PostgresUrl, options: { database?: string } = {}): string {
  const user = url.user === undefined ? '' : `${encodeURIComponent(url.user)}@`;
  const hosts = url.servers.map((s) => `${s.host || 'localhost'}:${s.port}`).join(',');
  const path = options.database === undefined ? url.path : `/${encodeURIComponent(options.database)}`;
  const params = [
    ...url.params,
    ...(url.targetSessionAttrsGiven ? [`target_session_attrs=${url.targetSessionAttrs}`] : []),
  ];
  return `${url.scheme}://${user}${hosts}${path}${queryString(params)}`;
}

/** Where the URL points, without user or password, for messages: `h1:p1,h2:p2/db`. */
export function describePostgresUrl(url: PostgresUrl): string {
  return `${url.servers.map(serverName).join(',')}/${url.database ?? ''}`;
}

/** Whether `url` names several servers (commas in its host list): then `new URL()` cannot read it. */
function severalServers(url: string): boolean {
  const rest = url.replace(SCHEME, '');
  const authority = rest.slice(0, rest.search(/[/?]|$/));
  return authority.slice(authority.lastIndexOf('@') + 1).includes(',');
}

/**
 * For a PostgreSQL client tool: the URL without its password (optionally naming `database`), and the password
 * to give it as PGPASSWORD. A single-server URL is rewritten by `URL` as it always was; one with several
 * servers keeps them all and its target_session_attrs, which libpq's tools understand.
 */
export function toolConnection(url: string, database?: string): { url: string; password: string } {
  if (!severalServers(url)) {
    const u = new URL(url);
    const password = decodeURIComponent(u.password);
    u.password = '';
    if (database) u.pathname = `/${database}`;
    return { url: u.toString(), password };
  }
  const parsed = parsePostgresUrl(url);
  return {
    url: libpqUrl(parsed, database === undefined ? {} : { database }),
    password: parsed.password ?? '',
  };
}

/** `url` naming `database` instead, password kept (for a connection made in this process). */
export function withDatabase(url: string, database: string): string {
  if (!severalServers(url)) {
    const u = new URL(url);
    u.pathname = `/${database}`;
    return u.toString();
  }
  const parsed = parsePostgresUrl(url);
  const userinfo = parsed.userinfo === '' ? '' : `${parsed.userinfo}@`;
  const hosts = parsed.servers.map((s) => `${s.host}:${s.port}`).join(',');
  const params = [
    ...parsed.params,
    ...(parsed.targetSessionAttrsGiven ? [`target_session_attrs=${parsed.targetSessionAttrs}`] : []),
  ];
  return `${parsed.scheme}://${userinfo}${hosts}/${encodeURIComponent(database)}${queryString(params)}`;
}
