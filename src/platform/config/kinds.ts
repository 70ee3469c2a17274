import { z } from 'zod';
import { parseHostPort, type HostPort } from './host-port.js';
import type { Setting, SettingType } from './setting.js';

/*
 * The kinds of settings: each makes the schema and the "expected …" text of the one-line error from the same
 * few numbers, so that a range is written once.
 */

interface Common {
  readonly description: string;
  readonly secret?: boolean;
  readonly deprecatedNames?: readonly string[];
}

interface Defaulted extends Common {
  readonly default?: string | number;
}

function make<T>(schema: z.ZodType<T>, type: SettingType, expects: string, options: Defaulted): Setting<T> {
  const { default: dflt, description, secret, deprecatedNames } = options;
  return {
    schema,
    type,
    expects,
    description,
    required: dflt === undefined,
    ...(dflt === undefined ? {} : { default: String(dflt) }),
    ...(secret ? { secret } : {}),
    ...(deprecatedNames ? { deprecatedNames } : {}),
  };
}

/** The setting may be left unset: its value is then undefined (what that means is in the description). */
export function optional<T>(setting: Setting<T>): Setting<T | undefined> {
  return { ...setting, schema: setting.schema.optional(), required: false };
}

/** A string read by `parse`, which answers undefined for what it does not accept. */
export function parsed<T>(parse: (raw: string) => T | undefined): z.ZodType<T> {
  return z.string().transform((raw, ctx) => {
    const value = parse(raw);
    if (value !== undefined) return value;
    ctx.issues.push({ code: 'custom', message: 'invalid', input: raw });
    return z.NEVER;
  });
}

export function port(options: Defaulted & { readonly min?: 0 | 1 }): Setting<number> {
  const min = options.min ?? 0;
  return make(
    z.coerce.number().int().min(min).max(65535),
    'port',
    `an integer port from ${min} to 65535`,
    options,
  );
}

interface IntegerOptions extends Defaulted {
  readonly min: number;
  readonly max: number;
  readonly unit?: 'seconds' | 'hours' | 'days';
  /** What 0 means, when it is allowed and special ("off"). */
  readonly zero?: string;
}

export function integer(options: IntegerOptions): Setting<number> {
  const { min, max, unit, zero } = options;
  const from = `${min}${zero ? ` (${zero})` : ''}`;
  const expects = unit
    ? `an integer number of ${unit} from ${from} to ${max}`
    : `an integer from ${from} to ${max}`;
  return make(z.coerce.number().int().min(min).max(max), unit ?? 'integer', expects, options);
}

export function choice<const V extends readonly [string, ...string[]]>(
  values: V,
  options: Defaulted,
): Setting<V[number]> {
  return make(z.enum(values), 'choice', `one of ${values.join(', ')}`, options);
}

/** "a, b or c" */
function orList(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1) ?? ''}`;
}

export function url(
  schemes: readonly string[],
  options: Defaulted & { readonly example?: string },
): Setting<string> {
  const schema = z.string().refine((value) => {
    try {
      return schemes.includes(new URL(value).protocol.slice(0, -1));
    } catch {
      return false;
    }
  });
  const example = options.example ? ` (${options.example})` : '';
  const article = /^[aeioh]/.test(schemes[0] ?? '') ? 'an' : 'a';
  const expects = `${article} ${orList(schemes.map((s) => `${s}://`))} URL${example}`;
  return make(schema, 'url', expects, options);
}

const S3_URL = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/;

export function s3Url(options: Defaulted): Setting<string> {
  return make(z.string().regex(S3_URL), 'url', 'an s3://bucket[/prefix] URL', options);
}

export function hostPort(options: Defaulted): Setting<HostPort> {
  return make(parsed(parseHostPort), 'host:port', 'host:port, e.g. 127.0.0.1:22222 or [::1]:22222', options);
}

interface TextOptions extends Defaulted {
  readonly type: 'address' | 'path' | 'text';
  readonly expects: string;
  readonly pattern?: RegExp;
  readonly minLength?: number;
}

export function text(options: TextOptions): Setting<string> {
  const base = z.string().min(options.minLength ?? 1);
  return make(options.pattern ? base.regex(options.pattern) : base, options.type, options.expects, options);
}

/** A value of its own syntax, read by `parse`. */
export function custom<T>(
  parse: (raw: string) => T | undefined,
  options: Defaulted & { readonly type: SettingType; readonly expects: string },
): Setting<T> {
  return make(parsed(parse), options.type, options.expects, options);
}
