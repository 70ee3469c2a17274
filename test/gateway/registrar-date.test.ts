// The registrar's Date header (src/gateway/sip-date.ts): RFC 3261 §20.17's RFC 1123 format in GMT, the text
// kept for the second it names and written anew for the next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSipDate } from '../../src/gateway/sip-date.js';

test('RFC 1123 format in GMT, the same text within a second, the next second written anew', () => {
  const sipDate = createSipDate();
  assert.equal(sipDate(0), 'Thu, 01 Jan 1970 00:00:00 GMT');
  assert.equal(sipDate(999), 'Thu, 01 Jan 1970 00:00:00 GMT');
  assert.equal(sipDate(1000), 'Thu, 01 Jan 1970 00:00:01 GMT');
  assert.equal(sipDate(Date.UTC(2026, 11, 4, 3, 20, 5, 750)), 'Fri, 04 Dec 2026 03:20:05 GMT');
  assert.equal(sipDate(1500), 'Thu, 01 Jan 1970 00:00:01 GMT', 'an earlier second after a later one');
});
