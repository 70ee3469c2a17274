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
        'libre sends requests only to sip: URIs (sip_request_alloc: any other scheme is ENOSYS): with a ' +
          'sips: remote target (the Contact of a dialog without Record-Route) it cannot send ACK, BYE or ' +
          're-INVITE — an answered call is closed at once with "Function not implemented", and on an ' +
          'incoming call hold fails and its BYE is never sent. Over TLS it needs sip:…;transport=tls targets.',
        'outbound="sip:HOST:PORT;transport=…" becomes a preloaded Route (…;lr) on every request; the ' +
          "dialog's requests follow the 2xx's Record-Route, else its Contact.",
        'Over TLS it listens on its SIP port + 1 and registers that port in its Contact; in a dialog its ' +
          "Contact names the TLS connection's own port: requests must reach it over the connection it opened.",
        'TLS: it does not verify the server certificate (libre 1.1 enables no peer verification for SIP ' +
          'clients; sip_cafile only loads CAs), so a self-signed server works unconfigured.',
        'sndfile dumps what it decodes only until the first hold: a non-sendrecv SDP resets the receive ' +
          'path and its filter chain, which is not rebuilt while the send filters exist (audio.c ' +
          'audio_decoder_set/aufilt_setup in 1.0); the call-out recording is judged on the audio before hold.',
        'DTMF: `sndcode DIGITS` sends RFC 4733 telephone-event packets (no SIP INFO); hold/resume are ' +
          're-INVITEs with a=sendonly, then a=sendrecv.',
      ],
    },
    await servers(),
  );
  assertVoxgateMatchesReference(results);
});
