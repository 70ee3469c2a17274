// Forms made from the API's own request schemas (its OpenAPI document at /openapi.json): the console asks for
// exactly what the API accepts, and the API's validation problems (errors[].pointer) are shown at the field.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { ApiError, describe, type Json, type JsonObject } from './api.js';

export interface FieldSchema {
  type?: string | string[];
  enum?: Json[];
  items?: FieldSchema;
  description?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  anyOf?: FieldSchema[];
  oneOf?: FieldSchema[];
  properties?: Record<string, FieldSchema>;
}

export interface BodySchema {
  properties: Record<string, FieldSchema>;
  required: string[];
}

interface OpenApi {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> } }>>;
}

let openApi: Promise<OpenApi> | undefined;

/** The JSON body schema of `method path` (a path template as the OpenAPI document writes it). */
export async function bodySchema(method: string, path: string): Promise<BodySchema | undefined> {
  openApi ??= fetch('/openapi.json').then((r) => r.json() as Promise<OpenApi>);
  const op = (await openApi).paths[path]?.[method.toLowerCase()];
  const schema = op?.requestBody?.content?.['application/json']?.schema as
    { properties?: Record<string, FieldSchema>; required?: string[] } | undefined;
  if (!schema?.properties) return undefined;
  return { properties: schema.properties, required: schema.required ?? [] };
}

/** The alternatives of a field, flattened: `{type: ['string','null']}`, anyOf/oneOf of types and enums. */
function flatten(schema: FieldSchema): FieldSchema[] {
  const alternatives = schema.anyOf ?? schema.oneOf;
  return alternatives ? alternatives.flatMap(flatten) : [schema];
}

type Kind = 'boolean' | 'integer' | 'number' | 'enum' | 'list' | 'text' | 'object';

interface Field {
  name: string;
  kind: Kind;
  nullable: boolean;
  required: boolean;
  options: string[];
  secret: boolean;
  description?: string;
}

function fieldOf(name: string, schema: FieldSchema, required: boolean): Field {
  const alternatives = flatten(schema);
  const types = alternatives.flatMap((a) => (Array.isArray(a.type) ? a.type : a.type ? [a.type] : []));
  const enums = alternatives.flatMap((a) => a.enum ?? []).filter((v) => v !== null);
  const nullable = types.includes('null') || alternatives.some((a) => a.enum?.includes(null));
  let kind: Kind = 'text';
  if (enums.length > 0) kind = 'enum';
  else if (types.includes('array')) kind = 'list';
  else if (types.includes('boolean')) kind = 'boolean';
  else if (types.includes('integer')) kind = 'integer';
  else if (types.includes('number')) kind = 'number';
  else if (types.includes('object')) kind = 'object';
  return {
    name,
    kind,
    nullable,
    required,
    options: enums.map(String),
    secret: /password|secret/i.test(name),
    ...(schema.description ? { description: schema.description } : {}),
  };
}

/** What an input shows for a value of the resource. */
function display(value: Json | undefined): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map((v) => String(v)).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The JSON value of an input's text; undefined = leave the member out. */
function parse(field: Field, text: string): Json | undefined {
  const t = text.trim();
  if (t === '') return field.nullable ? null : undefined;
  switch (field.kind) {
    case 'boolean':
      return t === 'true';
    case 'integer':
    case 'number':
      // A number the API refuses (not an integer, out of range) is sent as typed: the API names the field.
      return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
    case 'list':
      return t
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'object':
      try {
        return JSON.parse(t) as Json;
      } catch {
        return t;
      }
    default:
      return text;
  }
}

/** The field a problem's pointer names: `/sipDigestAlgorithms/0` → `sipDigestAlgorithms`. */
function fieldOfPointer(pointer: string): string {
  return (pointer.split('/')[1] ?? '').replaceAll('~1', '/').replaceAll('~0', '~');
}

export interface SchemaFormProps {
  schema: BodySchema;
  /** The object being edited (PATCH: only changed members are sent), or undefined to create one. */
  initial?: JsonObject;
  /** Fields not shown (the path gives them, or the API fills them). */
  hidden?: string[];
  submitLabel: string;
  onSubmit: (body: JsonObject) => Promise<void>;
  onCancel: () => void;
}

export function SchemaForm(props: SchemaFormProps) {
  const fields = Object.entries(props.schema.properties)
    .filter(([name]) => !props.hidden?.includes(name))
    .map(([name, s]) => fieldOf(name, s, props.schema.required.includes(name)));
  const start = (f: Field) => (f.secret ? '' : display(props.initial?.[f.name]));
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(fields.map((f) => [f.name, start(f)])),
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string>('');
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const body: JsonObject = {};
    for (const f of fields) {
      const text = values[f.name] ?? '';
      if (props.initial && text === start(f)) continue;
      if (!props.initial && text.trim() === '') continue;
      const value = parse(f, text);
      if (value !== undefined) body[f.name] = value;
    }
    setBusy(true);
    setErrors({});
    setGeneral('');
    try {
      await props.onSubmit(body);
    } catch (err) {
      if (err instanceof ApiError && err.problem.errors?.length) {
        const byField: Record<string, string> = {};
        const rest: string[] = [];
        for (const e of err.problem.errors) {
          const name = fieldOfPointer(e.pointer);
          if (e.where === 'body' && fields.some((f) => f.name === name)) {
            byField[name] = byField[name] ? `${byField[name]}; ${e.detail}` : e.detail;
          } else rest.push(`${e.where}${e.pointer}: ${e.detail}`);
        }
        setErrors(byField);
        setGeneral(rest.join('; ') || (Object.keys(byField).length ? '' : describe(err)));
      } else setGeneral(describe(err));
    } finally {
      setBusy(false);
    }
  };

  const set = (name: string) => (event: Event) =>
    setValues({ ...values, [name]: (event.currentTarget as HTMLInputElement).value });

  const input = (f: Field) => {
    const id = `field-${f.name}`;
    const value = values[f.name] ?? '';
    const invalid = errors[f.name] ? 'true' : 'false';
    if (f.kind === 'enum' || f.kind === 'boolean') {
      const options = f.kind === 'boolean' ? ['true', 'false'] : f.options;
      return html`<select
        id=${id}
        name=${f.name}
        value=${value}
        onChange=${set(f.name)}
        aria-invalid=${invalid}
      >
        <option value="">${f.nullable ? '(none / inherit)' : '(default)'}</option>
        ${options.map((o) => html`<option value=${o}>${o}</option>`)}
      </select>`;
    }
    return html`<input
      id=${id}
      name=${f.name}
      type=${f.secret ? 'password' : f.kind === 'integer' || f.kind === 'number' ? 'text' : 'text'}
      inputmode=${f.kind === 'integer' ? 'numeric' : undefined}
      autocomplete=${f.secret ? 'new-password' : 'off'}
      placeholder=${f.kind === 'list' ? 'comma separated' : f.secret && props.initial ? '(unchanged)' : ''}
      value=${value}
      onInput=${set(f.name)}
      aria-invalid=${invalid}
      aria-describedby=${errors[f.name] ? `${id}-error` : undefined}
    />`;
  };

  return html`<form class="schema-form" onSubmit=${submit} novalidate>
    ${general && html`<p class="form-error" role="alert" data-testid="form-error">${general}</p>`}
    ${fields.map(
      (f) =>
        html`<div class=${`field${errors[f.name] ? ' invalid' : ''}`} data-field=${f.name}>
          <label for=${`field-${f.name}`}>${f.name}${f.required && !props.initial ? ' *' : ''}</label>
          ${input(f)}
          ${
            errors[f.name] &&
            html`<span class="field-error" id=${`field-${f.name}-error`} role="alert"
              >${errors[f.name]}</span
            >`
          }
        </div>`,
    )}
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy}>${props.submitLabel}</button>
      <button type="button" onClick=${props.onCancel}>Cancel</button>
    </div>
  </form>`;
}
