// Webhooks end to end on the real binary: a tenant's webhook created through the API, phones registering and
// calling through the gateway, and the worker delivering each event, signed, to a receiver on this host.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SipRequest } from '../../src/sip/index.js';
import type { WebhookEvent } from '../../src/store/index.js';
import { freeUdpPort } from '../helpers/rtpengine.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const KEY = `vxg_whk${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;

describe('voxgate --target=all: webhooks for calls and registrations', () => {
  let vx: VoxgateProcess;
  let server: Server;
  let hookUrl: string;
  let secret = '';
  const got: WebhookEvent[] = [];
  let forged = 0;

  const api = async (path: string, body?: unknown, method = body ? 'POST' : 'GET') => {
    const res = await fetch(`${vx.httpUrl}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['voxgate-signature'])) ?? [];
        const mac = createHmac('sha256', secret).update(`${t}.${body}`).digest();
        if (!t || !v1 || !timingSafeEqual(mac, Buffer.from(v1, 'hex'))) {
          forged++;
          res.writeHead(401).end();
          return;
        }
        got.push(JSON.parse(body) as WebhookEvent);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/voxgate`;
    const portMin = 37000 + 2 * Math.floor(Math.random() * 2000);
    vx = await startVoxgate(['--target=all'], {
      VOXGATE_ADMIN_API_KEY: KEY,
      VOXGATE_MEDIA_NG: `127.0.0.1:${await freeUdpPort()}`,
      VOXGATE_RTP_PORT_MIN: String(portMin),
      VOXGATE_RTP_PORT_MAX: String(portMin + 99),
      VOXGATE_WEBHOOK_ALLOW: '127.0.0.1',
    });
  });
  after(async () => {
    assert.equal(await vx?.stop(), 0);
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('registrations and a call reach the receiver as signed events; a disallowed URL is refused', async () => {
    const tenantId = (await api('/tenants', { name: 'Acme', sipDomain: 'acme.example' })).json.id as string;
    await api(`/tenants/${tenantId}/users`, { username: 'alice', password: 'alice-pass' });
    await api(`/tenants/${tenantId}/users`, { username: 'bob', password: 'bob-pass' });

    const refused = await api(`/tenants/${tenantId}/webhooks`, {
      url: 'http://169.254.169.254/latest/meta-data',
      events: ['call.ended'],
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.type, '/problems/validation-failed');

    const created = await api(`/tenants/${tenantId}/webhooks`, {
      url: hookUrl,
      events: ['call.started', 'call.ringing', 'call.answered', 'call.ended', 'registration.changed'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    secret = created.json.secret as string;

    const alice = await SipPhone.open('alice', 'alice-pass', vx.sipUdpPort!);
    const bob = await SipPhone.open('bob', 'bob-pass', vx.sipUdpPort!);
    try {
      assert.equal((await alice.register()).status, 200);
      assert.equal((await bob.register()).status, 200);
      const call = await alice.invite('bob', sdp(await freeUdpPort()));
      const invite = (await bob.request('INVITE')) as SipRequest;
      bob.reply(invite, 180, 'Ringing', 'whk');
      await alice.response(call.callId, 180);
      bob.reply(invite, 200, 'OK', 'whk', {}, sdp(await freeUdpPort()));
      assert.equal((await call.final()).status, 200);
      call.ack();
      call.send('BYE');
      bob.reply(await bob.request('BYE'), 200, 'OK', 'whk');
      assert.equal((await alice.response(call.callId, 200, 'BYE')).status, 200);

      const ofCall = () => got.filter((e) => e.data.callId === call.callId).map((e) => e.type);
      // Call events and registration changes come from two streams, read one after the other: no order
      // between them.
      const registrations = () => got.filter((e) => e.type === 'registration.changed').length;
      for (
        let i = 0;
        i < 300 && (!ofCall().includes('call.ended') || ofCall().length < 4 || registrations() < 2);
        i++
      )
        await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(ofCall().sort(), ['call.answered', 'call.ended', 'call.ringing', 'call.started']);
      const ended = got.find((e) => e.type === 'call.ended' && e.data.callId === call.callId)!;
      assert.equal(ended.tenantId, tenantId);
      assert.equal(ended.data.disposition, 'answered');
      assert.equal(ended.data.hangupBy, 'caller');
      const registered = got.filter((e) => e.type === 'registration.changed');
      assert.deepEqual(registered.map((e) => e.data.aor).sort(), [
        'sip:alice@acme.example',
        'sip:bob@acme.example',
      ]);
      assert.equal(forged, 0);

      const log = await api(`/tenants/${tenantId}/webhooks/${created.json.id as string}/deliveries`);
      const items = log.json.items as { state: string }[];
      assert.equal(items.length, got.length);
      assert.ok(items.every((d) => d.state === 'delivered'));
    } finally {
      alice.close();
      bob.close();
    }
  });
});
