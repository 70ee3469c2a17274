// The interop test of baresip 1.0 (Debian baresip-core, libre): the suite's checks over UDP, TCP and TLS
// against the reference and voxgate on their defaults, and the rule that voxgate passes what the reference
// passes. The driver is test/interop/clients/baresip.ts.
import { test } from 'node:test';
import { Baresip, baresipConfigSample } from './clients/baresip.js';
import { assertVoxgateMatchesReference, runClientSuite } from './lib/scenario.js';
import { servers } from './lib/servers.js';

test('baresip 1.0 against the reference and voxgate (udp, tcp, tls)', async () => {
  const results = await runClientSuite(
    {
      make: () => new Baresip(),
      transports: ['udp', 'tcp', 'tls'],
      configSample: baresipConfigSample,
      quirks: [
        'Digest: answers MD5 only; a challenge with any other algorithm aborts the whole authentication ' +
          '("Function not implemented"), even with an MD5 challenge beside it.',
        'libre sends requests only to sip: URIs (sip_request: any other scheme is ENOSYS): a 2xx whose ' +
          'Contact is a sips: URI cannot be ACKed and the call is closed with "Function not implemented"; ' +
          'with transport=tls it expects sip:…;transport=tls targets.',
        'outbound="sip:HOST:PORT;transport=…" becomes a preloaded Route (…;lr) on every request; the ' +
          "dialog's requests follow the 2xx's Record-Route, else its Contact.",
        'Over TLS it listens for TLS on its SIP port + 1 and puts that port in its Contact; requests must reach ' +
          'it over the connection it registered on.',
        'DTMF: `sndcode DIGITS` sends RFC 4733 telephone-event packets (no SIP INFO); hold/resume are ' +
          're-INVITEs with a=sendonly, then a=sendrecv.',
      ],
    },
    await servers(),
  );
  assertVoxgateMatchesReference(results);
});
