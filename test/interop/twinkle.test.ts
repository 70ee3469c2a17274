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
          'offered SHA-256 and MD5 challenges (RFC 8760), it skips the SHA-256 one and answers MD5 (qop=auth, cnonce, nc)',
          "Debian's build has no SIP over TLS (sip_transport is udp, tcp or auto)",
          'by default its speex VAD (speex_dsp_vad, on for every codec) takes a steady sound for noise after about 1.5 s and stops sending RTP; the suite turns VAD, AGC and noise reduction off',
          'sends PUBLISH (presence) at start-up: voxgate answers 405, the reference 404; registration and calls are unaffected',
          'hold (a=sendonly re-INVITE) stops its RTP session and audio devices, retrieve starts new ones; digits typed while no RTP session runs are dropped silently',
        ],
      },
      await servers(),
    );
    assertVoxgateMatchesReference(results);
  },
);
