import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error.js';
import type { Setting } from './setting.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** The text a setting was given, and under which name (the current one, a deprecated one, or `<NAME>_FILE`). */
export interface GivenValue {
  readonly raw: string;
  readonly as: string;
  /** The file the value was read from, when it was given as `<NAME>_FILE`. */
  readonly file?: string;
}

/** The variable naming a file that holds a secret setting's value (Docker and Kubernetes secrets as files). */
export const fileVariable = (name: string): string => `${name}_FILE`;

/** A secret file's value: its text without the line end(s) an editor or `echo` leaves at its end. */
export const secretFileText = (text: string): string => text.replace(/[\r\n]+$/, '');

/**
 * An empty variable counts as unset. The current name wins over a deprecated one. A secret may instead be
 * given as `<NAME>_FILE`, the path of a file holding it (read here; giving both is an error).
 */
export function givenValue(env: Env, name: string, setting: Setting<unknown>): GivenValue | undefined {
  const file = setting.secret ? env[fileVariable(name)] : undefined;
  for (const as of [name, ...(setting.deprecatedNames ?? [])]) {
    const raw = env[as];
    if (raw === undefined || raw === '') continue;
    if (file) {
      throw new ConfigError(
        'CONFIG_INVALID_VALUE',
        `${as} and ${fileVariable(name)} are both set: give the secret one way`,
      );
    }
    return { raw, as };
  }
  if (!file) return undefined;
  try {
    return { raw: secretFileText(readFileSync(file, 'utf8')), as: fileVariable(name), file };
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(
      'CONFIG_INVALID_VALUE',
      `${fileVariable(name)}=${file} is invalid: cannot read the file (${reason})`,
    );
  }
}
