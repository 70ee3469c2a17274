import type { Setting } from './setting.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** The text a setting was given, and under which name (the current one, or a deprecated one). */
export interface GivenValue {
  readonly raw: string;
  readonly as: string;
}

/** An empty variable counts as unset. The current name wins over a deprecated one. */
export function givenValue(env: Env, name: string, setting: Setting<unknown>): GivenValue | undefined {
  for (const as of [name, ...(setting.deprecatedNames ?? [])]) {
    const raw = env[as];
    if (raw !== undefined && raw !== '') return { raw, as };
  }
  return undefined;
}
