/*
 * RFC 3261 §25.1:
 *   To        =  ( "To" / "t" ) HCOLON ( name-addr / addr-spec ) *( SEMI to-param )
 *   to-param  =  tag-param / generic-param
 */
import { withTag, type FromTo } from './from.js';
import { parseNameAddr } from './name-addr.js';

export function parseTo(value: string): FromTo {
  return withTag(parseNameAddr('To', value));
}
