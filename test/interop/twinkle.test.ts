// The interop test of Twinkle 1.10 (Debian `twinkle-console`): the suite's checks against the reference and
// voxgate over UDP and TCP (Debian's Twinkle has no SIP over TLS), and the rule that voxgate passes every check
// the reference passes.
import { test } from 'node:test';
import { Twinkle, twinkleConfigSample, twinkleInstalled } from './clients/twinkle.js';
import { assertVoxgateMatchesReference, runClientSuite } from './lib/scenario.js';
import { servers } from './lib/servers.js';

test(
  'Twinkle: register, calls both ways, hold, DTMF and hang-up on voxgate as on the reference',
  { skip: twinkleInstalled() ? false : 'twinkle-console is not installed' },
  async () => {
    const results = await runClientSuite(
      {
        make: () => new Twinkle(),
        transports: ['udp', 'tcp'],
        configSample: twinkleConfigSample,
        quirks: [
          'registrar and outbound_proxy must be host:port: with a sip: scheme Twinkle ignores them without a word',
          'answers only an MD5 digest challenge: a SHA-256 one beside it is skipped (RFC 8760 allows either)',
          "Debian's build has no SIP over TLS (sip_transport is udp, tcp or auto)",
          'headless, the microphone and speaker are ALSA file plugins over the null device (~/.asoundrc); on hold it closes both and reopens them on retrieve',
        ],
      },
      await servers(),
    );
    assertVoxgateMatchesReference(results);
  },
);
