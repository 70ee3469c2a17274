// What `npm start` gives a newcomer, end to end: the all-in-one process on embedded defaults, a tenant and two
// users provisioned through the API, two phones registered, a call between them with RTP through the built-in
// relay, and the CDR written by the worker from the call's events.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { SipRequest } from '../../src/sip/index.js';
import { freeUdpPort } from '../helpers/rtpengine.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const KEY = `vxg_e2e${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;

describe('voxgate --target=all: provision, register, call with media, CDR', () => {
  let vx: VoxgateProcess;
  let tenantId: string;
  const api = async (path: string, body?: unknown, method = body ? 'POST' : 'GET') => {
    const res = await fetch(`${vx.httpUrl}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (res.status === 204 ? {} : await res.json()) as Record<string, unknown>;
    assert.ok(res.ok, JSON.stringify(json));
    return json;
  };
  before(async () => {
    const portMin = 35000 + 2 * Math.floor(Math.random() * 2000);
    vx = await startVoxgate(['--target=all'], {
      VOXGATE_ADMIN_API_KEY: KEY,
      VOXGATE_MEDIA_NG: `127.0.0.1:${await freeUdpPort()}`,
      VOXGATE_RTP_PORT_MIN: String(portMin),
      VOXGATE_RTP_PORT_MAX: String(portMin + 99),
    });
    tenantId = (await api('/tenants', { name: 'Acme', sipDomain: 'acme.example' })).id as string;
    await api(`/tenants/${tenantId}/users`, { username: 'alice', password: 'alice-pass' });
    await api(`/tenants/${tenantId}/users`, { username: 'bob', password: 'bob-pass' });
  });
  after(async () => {
    assert.equal(await vx?.stop(), 0);
  });

  test('alice calls bob; audio goes through the relay both ways; hang-up; a CDR appears', async () => {
    const alice = await SipPhone.open('alice', 'alice-pass', vx.sipUdpPort!);
    const bob = await SipPhone.open('bob', 'bob-pass', vx.sipUdpPort!);
    const aliceRtp = createSocket('udp4');
    const bobRtp = createSocket('udp4');
    const got = { alice: 0, bob: 0 };
    aliceRtp.on('message', () => got.alice++);
    bobRtp.on('message', () => got.bob++);
    await new Promise<void>((r) => aliceRtp.bind(0, '127.0.0.1', r));
    await new Promise<void>((r) => bobRtp.bind(0, '127.0.0.1', r));
    try {
      assert.equal((await alice.register()).status, 200);
      assert.equal((await bob.register()).status, 200);
      const call = await alice.invite('bob', sdp(aliceRtp.address().port));
      const invite = (await bob.request('INVITE')) as SipRequest;
      const toBob = Number(/^m=audio (\d+)/m.exec(invite.body.toString())?.[1]);
      bob.reply(invite, 200, 'OK', 'e2e', {}, sdp(bobRtp.address().port));
      const ok = await call.final();
      assert.equal(ok.status, 200);
      const toAlice = Number(/^m=audio (\d+)/m.exec(ok.body.toString())?.[1]);
      call.ack();
      const packet = Buffer.concat([
        Buffer.from([0x80, 8, 0, 1, 0, 0, 0, 160, 0, 0, 0, 1]),
        Buffer.alloc(160),
      ]);
      for (let i = 0; i < 5; i++) {
        aliceRtp.send(packet, toAlice, '127.0.0.1');
        bobRtp.send(packet, toBob, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 20));
      }
      const deadline = Date.now() + 3000;
      while ((got.alice < 5 || got.bob < 5) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got, { alice: 5, bob: 5 });
      call.send('BYE');
      bob.reply(await bob.request('BYE'), 200, 'OK', 'e2e');
      assert.equal((await alice.response(call.callId, 200, 'BYE')).status, 200);

      // The call ends once the relay has returned its stats: poll until the metrics show it.
      let metrics = '';
      for (const stop = Date.now() + 5000; Date.now() < stop; await new Promise((r) => setTimeout(r, 50))) {
        metrics = await (await fetch(`${vx.httpUrl}/metrics`)).text();
        if (/^voxgate_calls_total\{disposition="answered"\} 1$/m.test(metrics)) break;
      }
      assert.match(metrics, /^voxgate_calls_total\{disposition="answered"\} 1$/m);
      assert.match(metrics, /^voxgate_media_sessions 0$/m, 'the relay deleted the call');
      assert.match(metrics, /^voxgate_media_port_pairs_in_use 0$/m);
      assert.match(
        metrics,
        /^voxgate_media_ng_commands_total\{command="offer",result="ok",cached="false"\} 1$/m,
      );
      // The worker writes the CDR from the event stream; poll the store through the process's own logs.
      const until = Date.now() + 5000;
      while (!vx.logs.some((l) => l.msg === 'CDRs written') && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(
        vx.logs.some((l) => l.msg === 'CDRs written'),
        'the worker wrote the CDR',
      );
    } finally {
      alice.close();
      bob.close();
      aliceRtp.close();
      bobRtp.close();
    }
  });

  test('API changes reach the running gateway at once: a new user registers, a changed password applies', async () => {
    const registerAs = async (user: string, password: string) => {
      const phone = await SipPhone.open(user, password, vx.sipUdpPort!);
      try {
        return (await phone.register()).status;
      } finally {
        phone.close();
      }
    };
    // Looked up (and remembered as unknown) before it exists, then provisioned: the next REGISTER succeeds.
    assert.notEqual(await registerAs('carol', 'carol-pass'), 200);
    const carol = (await api(`/tenants/${tenantId}/users`, { username: 'carol', password: 'carol-pass' })).id;
    assert.equal(await registerAs('carol', 'carol-pass'), 200);
    // Credentials remembered by the gateway, then the password changed: the old one no longer works.
    await api(`/tenants/${tenantId}/users/${String(carol)}`, { password: 'carol-new' }, 'PATCH');
    assert.notEqual(await registerAs('carol', 'carol-pass'), 200);
    assert.equal(await registerAs('carol', 'carol-new'), 200);
  });
  test('the API ends a live call through the gateway module: both phones get BYE, the CDR says api', async () => {
    const alice = await SipPhone.open('alice', 'alice-pass', vx.sipUdpPort!);
    const bob = await SipPhone.open('bob', 'bob-pass', vx.sipUdpPort!);
    try {
      assert.equal((await alice.register()).status, 200);
      assert.equal((await bob.register()).status, 200);
      const call = await alice.invite('bob', sdp(40010));
      const invite = (await bob.request('INVITE')) as SipRequest;
      bob.reply(invite, 200, 'OK', 'e2e-api', {}, sdp(40012));
      assert.equal((await call.final()).status, 200);
      call.ack();
      let live: Record<string, unknown> = {};
      for (const stop = Date.now() + 5000; Date.now() < stop; await new Promise((r) => setTimeout(r, 50))) {
        const items = (await api(`/tenants/${tenantId}/calls/live`)).items as Record<string, unknown>[];
        live = items.find((c) => c.callId === call.callId && c.state === 'answered') ?? {};
        if (live.callId) break;
      }
      assert.equal(live.callId, call.callId);
      const res = await fetch(
        `${vx.httpUrl}/v1/tenants/${tenantId}/calls/live/${encodeURIComponent(call.callId)}`,
        { method: 'DELETE', headers: { authorization: `Bearer ${KEY}` } },
      );
      assert.equal(res.status, 202);
      const accepted = (await res.json()) as Record<string, unknown>;
      assert.equal(accepted.callId, call.callId);
      bob.reply(await bob.request('BYE'), 200, 'OK', 'e2e-api');
      const bye = await alice.request('BYE');
      assert.equal(bye.callId, call.callId);
      alice.reply(bye, 200, 'OK', call.fromTag);

      let cdr: Record<string, unknown> = {};
      for (const stop = Date.now() + 8000; Date.now() < stop; await new Promise((r) => setTimeout(r, 100))) {
        const res = await fetch(
          `${vx.httpUrl}/v1/tenants/${tenantId}/calls/${encodeURIComponent(call.callId)}`,
          {
            headers: { authorization: `Bearer ${KEY}` },
          },
        );
        if (res.status === 200) {
          cdr = (await res.json()) as Record<string, unknown>;
          break;
        }
      }
      assert.deepEqual([cdr.hangupBy, cdr.reason], ['api', 'ended through the API']);
      assert.ok(vx.logs.some((l) => l.msg === 'call ended through the API' && l.callId === call.callId));
    } finally {
      alice.close();
      bob.close();
    }
  });
});
