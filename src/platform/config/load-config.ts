import { ConfigError } from './config-error.js';
import { fileVariable, givenValue, type Env } from './raw-value.js';
import { deprecatedNames, sections, variableNames, variables, type Config } from './schema.js';
import type { ConfigSection, Setting, Settings } from './setting.js';

export interface LoadOptions {
  /** Told once per deprecated variable name that is set (the setting it stands for still works). */
  onDeprecated?(message: string): void;
}

/** Variables that share the prefix but are not settings of the process (`voxgate ctl` reads the API's; a SIP worker's place and its inherited UDP socket). */
const NOT_SETTINGS = /^VOXGATE_(TEST_|TARGET$|API_URL$|API_KEY$|SIP_WORKER_PLACE$|SIP_WORKER_UDP_FD$)/;

/**
 * Validates `VOXGATE_*` variables against every module's settings and builds the configuration. The first
 * problem found is thrown as a ConfigError whose message is one line naming the variable, the value given
 * (masked if secret) and what is allowed.
 */
export function loadConfig(env: Env, options: LoadOptions = {}): Config {
  refuseUnknown(env);
  const values = new Map<string, unknown>();
  const read = (name: string): unknown => {
    if (values.has(name)) return values.get(name);
    const entry = variables.get(name);
    if (!entry) throw new Error(`no setting ${name}`);
    const value = parseSetting(env, name, entry.setting, options);
    values.set(name, value);
    return value;
  };
  const parts = (sections as readonly ConfigSection<Settings, unknown>[]).map((s) => {
    const v = Object.fromEntries(Object.keys(s.settings).map((name) => [name, read(name)]));
    const problem = s.check?.(v);
    if (problem) throw new ConfigError('CONFIG_INVALID_VALUE', problem);
    return s.build(v);
  });
  return Object.assign({}, ...parts, { secretFiles: secretFiles(env) }) as Config;
}

/** The secret settings given as `<NAME>_FILE`: setting name → path (watched for rotation, secret-files.ts). */
function secretFiles(env: Env): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [name, { setting }] of variables) {
    const path = setting.secret ? env[fileVariable(name)] : undefined;
    if (path) files[name] = path;
  }
  return files;
}

function parseSetting(env: Env, name: string, setting: Setting<unknown>, options: LoadOptions): unknown {
  const given = givenValue(env, name, setting);
  if (given && given.as !== name && given.file === undefined) {
    options.onDeprecated?.(
      `${given.as} is deprecated: use ${name} (the same setting; ${name} wins if both are set)`,
    );
  }
  if (!given && setting.required) {
    throw new ConfigError('CONFIG_INVALID_VALUE', `${name} is missing: expected ${setting.expects}`);
  }
  const raw = given?.raw ?? setting.default;
  const result = setting.schema.safeParse(raw);
  if (!result.success) {
    const shown = setting.secret ? '(secret, not shown)' : JSON.stringify(raw);
    throw new ConfigError(
      'CONFIG_INVALID_VALUE',
      `${given?.as ?? name}=${shown} is invalid: expected ${setting.expects}`,
    );
  }
  return result.data;
}

function refuseUnknown(env: Env): void {
  for (const key of Object.keys(env)) {
    if (
      !key.startsWith('VOXGATE_') ||
      NOT_SETTINGS.test(key) ||
      variables.has(key) ||
      deprecatedNames.has(key) ||
      (key.endsWith('_FILE') && variables.get(key.slice(0, -'_FILE'.length))?.setting.secret)
    ) {
      continue;
    }
    const hint = closest(key);
    throw new ConfigError(
      'CONFIG_UNKNOWN_VARIABLE',
      `unknown setting ${key}${hint ? ` (did you mean ${hint}?)` : ''}; run 'voxgate --help' for the list`,
    );
  }
}

/** The nearest known name by edit distance, if it is close enough to be a typo. */
function closest(key: string): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of variableNames) {
    const d = editDistance(key, name);
    if (!best || d < best.d) best = { name, d };
  }
  return best && best.d <= 3 ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
