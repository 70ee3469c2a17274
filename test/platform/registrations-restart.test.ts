// The embedded default keeps registrations across a restart: a phone registered with the all-in-one process is
// still reachable after SIGTERM and a new start on the same data folder (VOXGATE_DATA_DIR/registrations.json),
// and the restarted gateway keeps it alive again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SipRequest } from '../../src/sip/index.js';
import { freeUdpPort } from '../helpers/rtpengine.js';
import { until } from '../helpers/rtp-party.js';
import { SipPhone } from '../helpers/sip-phone.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const KEY = `vxg_rst${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;

describe('voxgate on embedded defaults: registrations survive a restart (SIGTERM, start again)', () => {
  let dataDir: string;
  let vx: VoxgateProcess | undefined;
  const start = async (sipPort: string) => {
    const portMin = 37000 + 2 * Math.floor(Math.random() * 2000);
    return startVoxgate(
      ['--target=all'],
      {
        VOXGATE_ADMIN_API_KEY: KEY,
        VOXGATE_SIP_PORT: sipPort,
        VOXGATE_MEDIA_NG: `127.0.0.1:${await freeUdpPort()}`,
        VOXGATE_RTP_PORT_MIN: String(portMin),
        VOXGATE_RTP_PORT_MAX: String(portMin + 99),
      },
      { dataDir },
    );
  };
  const api = async (path: string, body?: unknown) => {
    const res = await fetch(`${vx!.httpUrl}/v1${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Record<string, unknown>;
    assert.ok(res.ok, JSON.stringify(json));
    return json;
  };
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'voxgate-restart-'));
  });
  after(async () => {
    if (vx) await vx.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a registered phone is found after the restart: listed by the API, called, kept alive', async () => {
    vx = await start('0');
    const sipPort = vx.sipUdpPort!;
    const tenantId = (await api('/tenants', { name: 'Acme', sipDomain: 'acme.example' })).id as string;
    await api(`/tenants/${tenantId}/users`, { username: 'alice', password: 'alice-pass' });
    await api(`/tenants/${tenantId}/users`, { username: 'bob', password: 'bob-pass' });

    const alice = await SipPhone.open('alice', 'alice-pass', sipPort);
    try {
      assert.equal((await alice.register(600)).status, 200);
      // The log line is written after the 200 goes out (the log is asynchronous): wait for it.
      const logs = vx.logs;
      await until(() => logs.some((l) => l.msg === 'registration added'), 3000);
      const added = logs.find((l) => l.msg === 'registration added');
      assert.equal(added?.user, 'sip:alice@acme.example', 'the registration is logged');
      assert.equal(added?.contact, `sip:alice@127.0.0.1:${alice.port}`);
      assert.equal(added?.source, `127.0.0.1:${alice.port}`);

      // SIGTERM: the registrations are written before the process exits.
      assert.equal(await vx.stop('SIGTERM'), 0);
      vx = undefined;
      const file = join(dataDir, 'registrations.json');
      assert.ok(existsSync(file), 'registrations.json written on SIGTERM');
      assert.match(readFileSync(file, 'utf8'), /sip:alice@acme\.example/);

      // The same data folder and SIP port (the replica's advertised address is what bindings record).
      vx = await start(String(sipPort));
      const restored = vx.logs.find((l) => l.msg === 'registrations restored');
      assert.equal(restored?.restored, 1);
      const { items } = (await api(`/tenants/${tenantId}/registrations`)) as {
        items: { aor: string; contact: string; source: string }[];
      };
      assert.deepEqual(
        items.map((r) => [r.aor, r.contact]),
        [['sip:alice@acme.example', `sip:alice@127.0.0.1:${alice.port}`]],
      );

      // The keepalive of the new process tracks the restored binding.
      const deadline = Date.now() + 5000;
      while (!vx.logs.some((l) => l.msg === 'keepalive resumed for registrations of this replica')) {
        assert.ok(Date.now() < deadline, 'keepalive resumed');
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(
        vx.logs.find((l) => l.msg === 'keepalive resumed for registrations of this replica')?.bindings,
        1,
      );
      const metrics = await (await fetch(`${vx.httpUrl}/metrics`)).text();
      assert.match(metrics, /^voxgate_registrations 1$/m);

      // A call to alice reaches the phone registered before the restart.
      const bob = await SipPhone.open('bob', 'bob-pass', sipPort);
      try {
        const call = await bob.invite('alice');
        const invite = (await alice.request('INVITE')) as SipRequest;
        alice.reply(invite, 486, 'Busy Here', 'rst');
        assert.equal((await call.final()).status, 486);
        call.ack();
      } finally {
        bob.close();
      }
    } finally {
      alice.close();
    }
  });
});
