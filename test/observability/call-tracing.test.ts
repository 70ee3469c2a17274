// OpenTelemetry traces of a call: voxgate --target=all posts OTLP/HTTP (JSON) to a receiver in this test — the
// wire protocol Tempo and the OpenTelemetry Collector accept (neither runs on this machine). One call gives
// one trace: the gateway's `call` root span with the ids derived from the Call-ID, the ng offer/answer/delete
// as the gateway sent them and as the relay handled them, and the worker's CDR write, all its children; the
// call's log lines carry the same trace id.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { PassThrough } from 'node:stream';
import { callTraceIds, createLogger } from '../../src/observability/index.js';
import type { SipRequest } from '../../src/sip/index.js';
import { freeUdpPort } from '../helpers/rtpengine.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  events?: { name: string }[];
}
interface OtlpRequest {
  resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

const KEY = `vxg_otel${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;
const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes?.find((a) => a.key === key)?.value;
  return v && Object.values(v)[0];
};

describe('call traces over OTLP/HTTP', () => {
  let vx: VoxgateProcess | undefined;
  let receiver: Server;
  const spans: OtlpSpan[] = [];
  const resources: OtlpRequest['resourceSpans'][number]['resource'][] = [];
  const contentTypes = new Set<string>();

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        contentTypes.add(`${req.method} ${req.url} ${req.headers['content-type']}`);
        const payload = JSON.parse(body) as OtlpRequest;
        for (const rs of payload.resourceSpans) {
          resources.push(rs.resource);
          for (const ss of rs.scopeSpans) spans.push(...ss.spans);
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const { port } = receiver.address() as { port: number };
    const portMin = 37000 + 2 * Math.floor(Math.random() * 1000);
    vx = await startVoxgate(['--target=all'], {
      VOXGATE_ADMIN_API_KEY: KEY,
      VOXGATE_TRACES_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      VOXGATE_MEDIA_NG: `127.0.0.1:${await freeUdpPort()}`,
      VOXGATE_RTP_PORT_MIN: String(portMin),
      VOXGATE_RTP_PORT_MAX: String(portMin + 99),
    });
  });
  after(async () => {
    await vx?.stop();
    receiver.close();
  });

  test('one call, one trace across gateway, relay control and the CDR writer; logs carry its trace id', async () => {
    const running = vx!;
    const api = async (path: string, body: unknown) => {
      const res = await fetch(`${running.httpUrl}/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.ok(res.ok, await res.clone().text());
      return (await res.json()) as { id: string };
    };
    const tenantId = (await api('/tenants', { name: 'Otel', sipDomain: 'acme.example' })).id;
    await api(`/tenants/${tenantId}/users`, { username: 'alice', password: 'alice-pass' });
    await api(`/tenants/${tenantId}/users`, { username: 'bob', password: 'bob-pass' });
    const alice = await SipPhone.open('alice', 'alice-pass', running.sipUdpPort!);
    const bob = await SipPhone.open('bob', 'bob-pass', running.sipUdpPort!);
    let callId: string;
    try {
      assert.equal((await alice.register()).status, 200);
      assert.equal((await bob.register()).status, 200);
      const call = await alice.invite('bob', sdp(40000));
      callId = call.callId;
      const invite = (await bob.request('INVITE')) as SipRequest;
      bob.reply(invite, 200, 'OK', 'otel', {}, sdp(40002));
      assert.equal((await call.final()).status, 200);
      call.ack();
      call.send('BYE');
      bob.reply(await bob.request('BYE'), 200, 'OK', 'otel');
      await alice.response(call.callId, 200, 'BYE');
      const until = Date.now() + 5000;
      while (!running.logs.some((l) => l.msg === 'CDRs written') && Date.now() < until)
        await new Promise((r) => setTimeout(r, 50));
    } finally {
      alice.close();
      bob.close();
    }
    // Stopping flushes the batch of spans.
    assert.equal(await running.stop(), 0);
    vx = undefined;

    const { traceId, spanId } = callTraceIds(callId);
    assert.ok(
      [...contentTypes].every((c) => c === 'POST /v1/traces application/json'),
      [...contentTypes].join(),
    );
    const inTrace = spans.filter((s) => s.traceId === traceId);
    const root = inTrace.find((s) => s.name === 'call');
    assert.ok(root, `a call span in trace ${traceId}; got ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(root.spanId, spanId);
    assert.equal(root.parentSpanId || undefined, undefined, 'the call span is the root');
    assert.equal(attr(root, 'voxgate.disposition'), 'answered');
    assert.equal(attr(root, 'voxgate.direction'), 'internal');
    assert.ok(root.events?.some((e) => e.name === 'answered'));
    const children = inTrace.filter((s) => s !== root);
    for (const s of children) assert.equal(s.parentSpanId, spanId, `${s.name} is a child of the call`);
    const names = children.map((s) => `${s.name}/${s.kind}`).sort();
    // kind: 2 server (relay), 3 client (gateway), 5 consumer (worker)
    for (const expected of [
      'ng offer/3',
      'ng offer/2',
      'ng answer/3',
      'ng answer/2',
      'ng delete/3',
      'cdr write/5',
    ])
      assert.ok(names.includes(expected), `${expected} in ${names.join(', ')}`);
    assert.ok(resources.some((r) => r.attributes?.some((a) => a.key === 'service.name')));
    const callLogs = running.logs.filter((l) => l.callId === callId);
    for (const line of callLogs) assert.equal(line.traceId, traceId);
  });

  test('a log line with a callId gets the trace id of that call (Loki to Tempo)', async () => {
    const out = new PassThrough();
    const lines: Record<string, unknown>[] = [];
    out.on('data', (d: Buffer) => lines.push(JSON.parse(d.toString()) as Record<string, unknown>));
    const logger = createLogger({ level: 'info', env: 'test', target: 'all', destination: out });
    logger.info({ callId: 'abc@host' }, 'call ended');
    logger.info({ other: 1 }, 'no call');
    await new Promise((r) => setImmediate(r));
    assert.equal(lines[0]?.traceId, callTraceIds('abc@host').traceId);
    assert.match(String(lines[0]?.traceId), /^[0-9a-f]{32}$/);
    assert.equal(lines[1]?.traceId, undefined);
  });
});
