// The interop test of Linphone 5.1 (Debian linphone-cli: linphonec, belle-sip): the suite's checks over UDP,
// TCP and TLS against the reference and voxgate on their defaults, and the rule that voxgate passes what the
// reference passes. The driver is test/interop/clients/linphone.ts.
import { test } from 'node:test';
import { Linphone, linphoneConfigSample } from './clients/linphone.js';
import { assertVoxgateMatchesReference, runClientSuite } from './lib/scenario.js';
import { servers } from './lib/servers.js';

test('Linphone 5.1 (linphonec) against the reference and voxgate (udp, tcp, tls)', async () => {
  const results = await runClientSuite(
    {
      make: () => new Linphone(),
      transports: ['udp', 'tcp', 'tls'],
      configSample: linphoneConfigSample,
      quirks: [
        'Digest: answers the first challenge it gets, whatever its algorithm (SHA-256 when that comes first); ' +
          'with qop="auth" it sends qop, cnonce and nc.',
        'SDP: offers opus/48000/2 first, then speex, PCMU, PCMA, GSM, G722, G729, … and telephone-event; the ' +
          'far end answers PCMU.',
        'Over TCP and TLS its Contact carries the port of the connection it opened (taken from Via ' +
          'received/rport), with +sip.instance but no reg-id: requests must reach it over that connection.',
        'Needs reg_route (the server as outbound proxy), else a call to sip:user@domain resolves the domain ' +
          'in DNS.',
        'On a loopback-only host liblinphone 5.1 declares the network down 5 s after start when IPv6 is on ' +
          '(it then drops its registration and its TCP/TLS connection); use_ipv6=0 only holds with ' +
          'ipv6_migration_done=1, else it is dropped as an old setting.',
        'TLS: belle-sip matches the certificate against the name it connected to (127.0.0.1) by CN and DNS ' +
          'names only, not IP subjectAltName: with the server given by address, verify_server_cn=0 (the chain ' +
          'is still verified against root_ca).',
        'Hold and resume are re-INVITEs with a=sendonly, then a=sendrecv; DTMF typed at the prompt goes as ' +
          'RFC 4733 telephone-event (use_rfc2833=1), one digit a second.',
      ],
    },
    await servers(),
  );
  assertVoxgateMatchesReference(results);
});
