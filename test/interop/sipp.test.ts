// The interop test of SIPp 3.6 (Debian sip-tester) as a client: the suite's checks over UDP and TCP against
// the reference and voxgate on their defaults, and the rule that voxgate passes every check the reference
// passes. The driver is test/interop/clients/sipp.ts; the phone it runs is test/interop/fixtures/sipp/phone.xml.
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Sipp, sippConfigSample } from './clients/sipp.js';
import { assertVoxgateMatchesReference, runClientSuite } from './lib/scenario.js';
import { servers } from './lib/servers.js';

const installed = spawnSync('which', ['sipp']).status === 0;

test(
  'SIPp: register, calls both ways, hold, DTMF and hang-up on voxgate as on the reference',
  { skip: installed ? false : 'sipp (Debian sip-tester) is not installed' },
  async () => {
    const results = await runClientSuite(
      {
        make: () => new Sipp(),
        transports: ['udp', 'tcp'],
        configSample: sippConfigSample,
        quirks: [
          'SIPp runs one scenario: phone.xml is the whole phone (REGISTER, call out, answer, hold, DTMF, BYE), ' +
            'run in 3PCC controller-B mode so that each action is a twin-socket command naming a Call-ID; ' +
            'a request from the server with an unknown Call-ID (an INVITE, an OPTIONS) starts a call of it too.',
          'Digest: [authentication] answers the first challenge and only MD5 or AKAv1-MD5 ("createAuthHeader: ' +
            'authentication must use MD5 or AKAv1-MD5" and the call is aborted on a SHA-256 one).',
          'Media: a pcap of G.711 μ-law RTP (made from the tone WAV at run time) played with play_pcap_audio ' +
            'through a raw socket from the -mp port; DTMF is play_dtmf: RFC 4733 events as payload type 96 ' +
            'with a new SSRC after 20 RTP "no-op" packets of payload type 97 (not in the SDP), and it stops the ' +
            'tone. SIPp cannot record what it receives: audio at the client is not drivable.',
          'Over TCP it is run with -t tn: a connection per call (the REGISTER keeps its own open); ' +
            'Debian builds SIPp without TLS.',
          "SIPp's [branch] is per scenario step (call number + step index): a step run twice in one call " +
            'repeats its branch (RFC 3261 §8.1.1.7 wants a new one) and the server takes the request for a ' +
            'retransmission, so phone.xml sends in-dialog requests with branch=[branch]-[cseq].',
        ],
      },
      await servers(),
    );
    assertVoxgateMatchesReference(results);
  },
);
