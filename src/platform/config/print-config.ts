import { variableNames, variables } from './variables.js';

/**
 * The effective configuration as `NAME=value` lines (env-file syntax, so it can be saved and reused),
 * secrets masked: a URL keeps its scheme, host and path and loses its password; other secrets are `****`.
 */
export function formatEffectiveConfig(env: Readonly<Record<string, string | undefined>>): string {
  return variableNames
    .map((name) => {
      const s = variables[name];
      const given = env[name];
      const value = given === undefined || given === '' ? (s.default ?? '') : given;
      const secret = 'secret' in s && s.secret;
      const origin =
        given === undefined || given === '' ? (s.default === undefined ? 'unset' : 'default') : 'set';
      return `${name}=${secret && value ? mask(value) : value}  # ${origin}: ${s.description}`;
    })
    .join('\n');
}

export function mask(value: string): string {
  try {
    const url = new URL(value);
    if (!url.host) return '****';
    if (url.password) url.password = '****';
    return url.toString();
  } catch {
    return '****';
  }
}
