/*
 * RFC 3261 §25.1:
 *   From        =  ( "From" / "f" ) HCOLON from-spec
 *   from-spec   =  ( name-addr / addr-spec ) *( SEMI from-param )
 *   from-param  =  tag-param / generic-param
 *   tag-param   =  "tag" EQUAL token
 */
import { parseNameAddr, type NameAddr } from './name-addr.js';
import { paramValue } from './params.js';

export interface FromTo extends NameAddr {
  readonly tag: string | undefined;
}

export function parseFrom(value: string): FromTo {
  return withTag(parseNameAddr('From', value));
}

/** The address with its tag parameter pulled out (§19.3); written out field by field, no spread, for speed. */
export function withTag(a: NameAddr): FromTo {
  return {
    displayName: a.displayName,
    uriText: a.uriText,
    uri: a.uri,
    params: a.params,
    bracketed: a.bracketed,
    tag: paramValue(a.params, 'tag'),
  };
}
