import type { z } from 'zod';

/** What kind of value a setting takes, as `voxgate --help` shows it. */
export type SettingType =
  | 'port'
  | 'integer'
  | 'seconds'
  | 'hours'
  | 'days'
  | 'choice'
  | 'list'
  | 'url'
  | 'host:port'
  | 'address'
  | 'path'
  | 'text';

/**
 * One `VOXGATE_*` environment variable: the schema that turns the raw string into its value, its type and
 * what an operator may write (the one-line error), a description, and either a default or whether it is
 * required (an optional setting without a default reads as undefined).
 */
export interface Setting<T> {
  readonly schema: z.ZodType<T>;
  readonly type: SettingType;
  readonly expects: string;
  readonly description: string;
  readonly default?: string;
  readonly required: boolean;
  /** A secret is never shown: masked by `voxgate config print`, left out of error messages. */
  readonly secret?: boolean;
  /** Former names still read (with a deprecation warning) when the setting itself is not set. */
  readonly deprecatedNames?: readonly string[];
}

export type Settings = Readonly<Record<string, Setting<unknown>>>;

/** The parsed values of a group of settings, typed from their schemas. */
export type ValuesOf<S extends Settings> = {
  readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

/**
 * The settings of one module and the part of the configuration they make. `check` finds what no single
 * setting can (a range whose ends are two settings): a one-line message naming the variables.
 */
export interface ConfigSection<S extends Settings, C> {
  readonly name: string;
  readonly settings: S;
  check?(values: ValuesOf<S>): string | undefined;
  build(values: ValuesOf<S>): C;
}

export function section<S extends Settings, C>(definition: ConfigSection<S, C>): ConfigSection<S, C> {
  return definition;
}
