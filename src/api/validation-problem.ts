import type { FastifySchemaValidationError } from 'fastify';
import { INSTANT_PATTERN, STORABLE_TEXT_PATTERN } from './schemas.js';

/** One invalid member of a request: where it is (RFC 6901 JSON pointer into `where`) and what is wrong. */
export interface InvalidMember {
  /** The part of the request: body, querystring, params or headers. */
  where: string;
  pointer: string;
  detail: string;
}

/** RFC 6901 escaping of one reference token. */
const token = (name: unknown) => `/${String(name).replaceAll('~', '~0').replaceAll('/', '~1')}`;

/** The member an error is about: the property itself for unknown and missing properties. */
function pointerOf(e: FastifySchemaValidationError): string {
  const p = e.params;
  if (e.keyword === 'additionalProperties') return e.instancePath + token(p.additionalProperty);
  if (e.keyword === 'required' || e.keyword === 'dependencies' || e.keyword === 'dependentRequired')
    return e.instancePath + token(p.missingProperty);
  return e.instancePath;
}

/** What is wrong, in words a client can act on (Ajv's message where it already is). */
function detailOf(e: FastifySchemaValidationError): string {
  const p = e.params;
  switch (e.keyword) {
    case 'additionalProperties':
      return 'is not a known property';
    case 'required':
      return 'is required';
    case 'dependencies':
    case 'dependentRequired':
      return `is required with ${String(p.property)}`;
    case 'pattern':
      if (p.pattern === STORABLE_TEXT_PATTERN)
        return 'must not contain NUL (U+0000) or an unpaired surrogate character';
      if (p.pattern === INSTANT_PATTERN) return 'must be a real instant: seconds 00-59 (no leap second)';
      break;
    case 'format':
      if (p.format === 'date-time')
        return 'must be an RFC 3339 date-time on a real calendar day, e.g. 2026-01-31T12:00:00Z';
      break;
  }
  return e.message ?? `fails ${e.keyword}`;
}

/** The invalid members of a request that failed schema validation in `where`, and one sentence naming them. */
export function invalidMembers(
  validation: readonly FastifySchemaValidationError[],
  where = 'body',
): { detail: string; errors: InvalidMember[] } {
  const errors = validation.map((e) => ({ where, pointer: pointerOf(e), detail: detailOf(e) }));
  return {
    detail: errors.map((e) => `${e.where}${e.pointer} ${e.detail}`).join('; '),
    errors,
  };
}
