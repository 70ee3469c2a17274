// Our Contact per transport and dialog (RFC 3261 §8.1.1.8): `sips:` only in a secure dialog; a `sip:` dialog
// over TLS gets `sip:…;transport=tls` (baresip's libre cannot send to a `sips:` target it did not ask for).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSipOutbound } from '../../src/gateway/sip-outbound.js';

const outbound = createSipOutbound({
  advertised: (transport) => ({ host: '192.0.2.10', port: transport === 'tls' ? 5061 : 5060 }),
  startTransaction: () => {
    throw new Error('not used');
  },
  sendBytes: () => undefined,
});

test('§8.1.1.8: a SIPS Contact only when the dialog is secure', () => {
  assert.equal(outbound.contact('udp'), '<sip:192.0.2.10:5060>');
  assert.equal(outbound.contact('tcp'), '<sip:192.0.2.10:5060;transport=tcp>');
  assert.equal(outbound.contact('tls'), '<sip:192.0.2.10:5061;transport=tls>');
  assert.equal(outbound.contact('tls', true), '<sips:192.0.2.10:5061>');
});
