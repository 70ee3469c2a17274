import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { runSipp, sippInstalled, sippPort, sippRegisterArgs as register } from '../helpers/sipp.js';

describe(
  'registrar against SIPp, a real UA implementation',
  { skip: !sippInstalled() && 'sipp not installed' },
  () => {
    let gw: GatewayHarness;
    before(async () => {
      // SIPp 3.6 reads only the first challenge and knows only MD5 ("createAuthHeader: authentication must use
      // MD5 or AKAv1-MD5"), like many deployed phones: the default (VOXGATE_SIP_DIGEST_ALGORITHMS=MD5, one
      // challenge) serves them as it is.
      gw = await startGateway();
    });
    after(() => gw.close());

    test('SIPp registers alice with digest authentication and the binding is stored', async () => {
      const localPort = await sippPort();
      const { code, logs } = await runSipp(
        'register-digest.xml',
        `127.0.0.1:${gw.port}`,
        register('alice', 's3cret', localPort),
      );
      assert.equal(code, 0, `sipp exited ${code}\n${logs}`);
      const [binding] = await gw.state.registrations.list('sip:alice@acme.example');
      assert.equal(binding?.contact, `sip:alice@127.0.0.1:${localPort}`);
      assert.equal(binding?.userAgent, 'SIPp');
    });

    test('SIPp registers over TCP: the binding records the transport and the flow', async () => {
      const localPort = await sippPort();
      const { code, logs } = await runSipp('register-digest.xml', `127.0.0.1:${gw.port}`, [
        '-t',
        't1',
        ...register('carol', 'c4rol', localPort),
      ]);
      assert.equal(code, 0, `sipp exited ${code}\n${logs}`);
      const [binding] = await gw.state.registrations.list('sip:carol@acme.example');
      assert.equal(binding?.transport, 'tcp');
      assert.ok(binding?.flowId, 'the TCP connection it came on');
    });

    test('SIPp with a wrong password is refused', async () => {
      const { code } = await runSipp(
        'register-digest.xml',
        `127.0.0.1:${gw.port}`,
        register('alice', 'wrong', await sippPort()),
      );
      assert.notEqual(code, 0, 'the scenario expects 200 and must fail');
    });
  },
);
