import { givenValue, type Env } from './raw-value.js';
import { variables } from './schema.js';

/**
 * The effective configuration as `NAME=value` lines (env-file syntax, so it can be saved and reused),
 * secrets masked: a URL keeps its scheme, host and path and loses its password; other secrets are `****`.
 */
export function formatEffectiveConfig(env: Env): string {
  return [...variables]
    .map(([name, { setting }]) => {
      const given = givenValue(env, name, setting);
      const value = given?.raw ?? setting.default ?? '';
      const origin = given
        ? given.file !== undefined
          ? `set from ${given.as}=${given.file}`
          : given.as === name
            ? 'set'
            : `set as ${given.as} (deprecated)`
        : setting.default === undefined
          ? 'unset'
          : 'default';
      return `${name}=${setting.secret && value ? mask(value) : value}  # ${origin}: ${setting.description}`;
    })
    .join('\n');
}

/** A URL with several servers (`postgres://u:p@h1:5432,h2:5432/db`), which `new URL` refuses. */
const MULTI_HOST_URL = /^([a-z][a-z0-9+.-]*:\/\/)(?:([^:@/]*)(?::[^@/]*)?@)?([^/@?#]*,[^/@?#]*)(.*)$/i;

export function mask(value: string): string {
  try {
    const url = new URL(value);
    if (!url.host) return '****';
    if (url.password) url.password = '****';
    return url.toString();
  } catch {
    const multi = MULTI_HOST_URL.exec(value);
    if (!multi) return '****';
    const [, scheme, user, hosts, rest] = multi;
    const hasPassword = /^[a-z][a-z0-9+.-]*:\/\/[^:@/]*:[^@/]*@/i.test(value);
    const userinfo = user === undefined ? '' : `${user}${hasPassword ? ':****' : ''}@`;
    return `${scheme}${userinfo}${hosts}${rest}`;
  }
}
