/*
 * RFC 3261 §25.1:
 *   Require        =  "Require" HCOLON option-tag *(COMMA option-tag)
 *   Proxy-Require  =  "Proxy-Require" HCOLON option-tag *(COMMA option-tag)
 *   Supported      =  ( "Supported" / "k" ) HCOLON [option-tag *(COMMA option-tag)]
 *   Unsupported    =  "Unsupported" HCOLON option-tag *(COMMA option-tag)
 *   option-tag     =  token
 */
import { SipParseError } from '../errors.js';

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/** The option tags of one Require/Proxy-Require/Supported/Unsupported value, as written. */
export function parseOptionTags(value: string): string[] {
  if (value.trim() === '') return [];
  return value.split(',').map((part) => {
    const tag = part.trim();
    if (!TOKEN.test(tag)) {
      throw new SipParseError('SIP_PARSE_HEADER', `malformed option-tag "${tag.slice(0, 40)}"`);
    }
    return tag;
  });
}
