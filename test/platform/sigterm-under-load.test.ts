// SIGTERM with calls up: the all-in-one refuses new calls with 503 and Retry-After while it drains, ends the
// calls still up at the end of the grace period with a BYE to both sides, logs each of them as ended by the
// system, and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { SipRequest } from '../../src/sip/index.js';
import { freeUdpPort } from '../helpers/rtpengine.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';
import { sipRequest, udpRequest } from '../helpers/udp.js';
import { startVoxgate } from '../helpers/voxgate-process.js';

const KEY = `vxg_drain${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;
const CALLS = 3;

test('SIGTERM under load: new calls get 503, calls up get BYE on both legs at the grace, exit 0', async () => {
  const portMin = 37000 + 2 * Math.floor(Math.random() * 1000);
  const vx = await startVoxgate(['--target=all'], {
    VOXGATE_ADMIN_API_KEY: KEY,
    VOXGATE_MEDIA_NG: `127.0.0.1:${await freeUdpPort()}`,
    VOXGATE_RTP_PORT_MIN: String(portMin),
    VOXGATE_RTP_PORT_MAX: String(portMin + 99),
    VOXGATE_SHUTDOWN_GRACE_SECONDS: '3',
  });
  const api = async (path: string, body: unknown) => {
    const res = await fetch(`${vx.httpUrl}/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.ok(res.ok, await res.clone().text());
    return (await res.json()) as { id: string };
  };
  const tenantId = (await api('/tenants', { name: 'Drain', sipDomain: 'drain.example' })).id;
  for (const username of ['alice', 'bob', 'carol'])
    await api(`/tenants/${tenantId}/users`, { username, password: `${username}-pass` });
  const phone = (user: string) => SipPhone.open(user, `${user}-pass`, vx.sipUdpPort!, 'drain.example');
  const [alice, bob, carol] = await Promise.all([phone('alice'), phone('bob'), phone('carol')]);
  let exited: Promise<number | null> | undefined;
  try {
    for (const p of [alice, bob, carol]) assert.equal((await p.register()).status, 200);
    const up: string[] = [];
    for (let i = 0; i < CALLS; i++) {
      const call = await alice.invite('bob', sdp(40000 + 2 * i));
      const invite = (await bob.request('INVITE')) as SipRequest;
      bob.reply(invite, 200, 'OK', `drain${i}`, {}, sdp(41000 + 2 * i));
      assert.equal((await call.final()).status, 200);
      call.ack();
      up.push(call.callId);
    }

    exited = vx.stop('SIGTERM');
    // Draining: a new call is refused so that clients and load balancers move to another instance.
    await new Promise((r) => setTimeout(r, 300));
    const refused = (
      await udpRequest(
        vx.sipUdpPort!,
        sipRequest('INVITE', vx.sipUdpPort!, ['Contact: <sip:carol@127.0.0.1:9>']).replace(
          'From: <sip:probe@example.com>',
          'From: <sip:carol@drain.example>',
        ),
      )
    ).toString('latin1');
    assert.match(refused, /^SIP\/2\.0 503 /);
    assert.match(refused, /\r\nRetry-After: \d+\r\n/);

    // At the grace, each call still up is ended on both legs.
    const byes = { alice: 0, bob: 0 };
    for (let i = 0; i < CALLS; i++) {
      await alice.request('BYE', 8000);
      byes.alice++;
      await bob.request('BYE', 8000);
      byes.bob++;
    }
    assert.deepEqual(byes, { alice: CALLS, bob: CALLS });
    assert.equal(await exited, 0);
    const ended = vx.logs.filter((l) => l.msg === 'call ended' && l.reason === 'gateway shutting down');
    assert.deepEqual(ended.map((l) => l.callId).sort(), [...up].sort());
    assert.ok(ended.every((l) => l.hangupBy === 'system'));
    // Their CDRs are written before the exit, though the stream is the embedded (memory) one.
    const signalled = vx.logs.findIndex((l) => l.msg === 'draining');
    const written = vx.logs
      .slice(signalled)
      .filter((l) => l.msg === 'CDRs written')
      .reduce((n, l) => n + Number(l.count), 0);
    assert.equal(written, CALLS);
  } finally {
    for (const p of [alice, bob, carol]) p.close();
    if (!exited) await vx.stop('SIGTERM');
  }
});
