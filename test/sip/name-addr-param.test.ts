// nameAddrParam reads a contact's header parameters from its parse as headerParam reads them from its text:
// the registrar and the NAT detection take a REGISTER's Contact parameters from the parse its validation made.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { headerParam, nameAddrParam, parseNameAddr } from '../../src/sip/index.js';

const CONTACTS = [
  '<sip:alice@192.0.2.10:5062;transport=udp>;expires=600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1',
  '"Alice, at home" <sip:alice@example.com;expires=5>;Expires=60;q=0.7',
  'sip:bob@198.51.100.7;EXPIRES=0',
  '<sip:carol@203.0.113.9>;+sip.instance="<urn:uuid:1>" ; reg-id = 2 ;ob',
  '<sips:dave@example.org;ob>;methods="INVITE, BYE";audio',
];
const NAMES = [
  'expires',
  'EXPIRES',
  '+sip.instance',
  'reg-id',
  'q',
  'ob',
  'audio',
  'methods',
  'transport',
  'absent',
];

describe("nameAddrParam (RFC 3261 §20.10: params after the address are the header field's)", () => {
  for (const contact of CONTACTS) {
    test(`reads what headerParam reads: ${contact.slice(0, 50)}`, () => {
      const parsed = parseNameAddr('Contact', contact);
      for (const name of NAMES) assert.equal(nameAddrParam(parsed, name), headerParam(contact, name), name);
    });
  }
});
