// A trunk's health in the API is what the gateways' OPTIONS checks found, shared through shared state:
// `voxgate --target=all` checks a carrier (a UDP socket here) every second and the API shows it up. (Down takes
// an unanswered OPTIONS, Timer F = 32 s with the default T1: test/gateway/trunk-status.test.ts covers it with
// short timers.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { buildResponse, parseMessage, type SipRequest } from '../../src/sip/index.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const KEY = `vxg_th${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;

interface Health {
  state: string;
  gateways: { gateway: string; reachable: boolean; checkedAt: string }[];
}

describe('trunk health through the API', () => {
  let vx: VoxgateProcess;
  let carrier: Socket;
  const api = async (path: string, body?: unknown) => {
    const res = await fetch(`${vx.httpUrl}/v1${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Record<string, unknown>;
    assert.ok(res.ok, JSON.stringify(json));
    return json;
  };

  before(async () => {
    carrier = createSocket('udp4');
    carrier.on('message', (bytes, from) => {
      const request = parseMessage(bytes, { datagram: true }) as SipRequest;
      if (request.method === 'OPTIONS')
        carrier.send(buildResponse(request, 200, 'OK'), from.port, from.address);
    });
    await new Promise<void>((r) => carrier.bind(0, '127.0.0.1', r));
    vx = await startVoxgate(['--target=all'], {
      VOXGATE_ADMIN_API_KEY: KEY,
      VOXGATE_TRUNK_CHECK_SECONDS: '1',
      VOXGATE_GATEWAY_MEDIA_RELAYS: 'off',
    });
  });
  after(async () => {
    await vx?.stop();
    carrier.close();
  });

  test('up, per gateway, once the carrier answers the OPTIONS checks', async () => {
    const tenantId = (await api('/tenants', { name: 'Acme', sipDomain: 'acme.example' })).id as string;
    const trunkId = (
      await api(`/tenants/${tenantId}/trunks`, {
        name: 'carrier',
        host: '127.0.0.1',
        port: carrier.address().port,
      })
    ).id as string;
    const health = async () => (await api(`/tenants/${tenantId}/trunks/${trunkId}`)).health as Health;
    const until = async (state: string) => {
      const deadline = Date.now() + 8000;
      let h = await health();
      while (h.state !== state && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        h = await health();
      }
      return h;
    };
    const up = await until('up');
    assert.equal(up.state, 'up', JSON.stringify(up));
    assert.equal(up.gateways.length, 1);
    assert.equal(up.gateways[0]?.reachable, true);
    assert.ok(Date.parse(up.gateways[0]!.checkedAt) > Date.now() - 10_000);
    const listed = (await api(`/tenants/${tenantId}/trunks`)).items as { id: string; health: Health }[];
    assert.equal(listed.find((t) => t.id === trunkId)?.health.state, 'up');
  });
});
