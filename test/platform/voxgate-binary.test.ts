import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runVoxgate, startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';
import { sipRequest, udpRequest } from '../helpers/udp.js';

function statusLine(reply: Buffer): string {
  return reply.toString('latin1').split('\r\n')[0] ?? '';
}

describe('voxgate --target=all on embedded defaults', () => {
  let vx: VoxgateProcess;
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'voxgate-all-'));
    vx = await startVoxgate([], {}, { dataDir });
  });
  after(async () => {
    if (vx.child.exitCode === null) await vx.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('starts every module in one process', () => {
    const started = vx.logs.find((l) => l.msg === 'voxgate started');
    assert.deepEqual(
      new Set(started?.modules as string[]),
      new Set([
        'http-server',
        'tracing',
        'store',
        'shared-state',
        'admin-bootstrap',
        'api',
        'sip-gateway',
        'media-relay',
        'worker',
      ]),
    );
    assert.equal(vx.logs.find((l) => l.msg === 'store ready')?.kind, 'pglite');
    assert.equal(vx.logs.find((l) => l.msg === 'shared state ready')?.kind, 'memory');
    assert.ok(
      !vx.logs.some((l) => String(l.msg).includes('no CDRs')),
      'the worker in the same process reads the call events',
    );
  });

  test('the SIP UDP socket asks for 2 MiB: Linux grants it up to net.core.rmem_max and reports twice that', async (t) => {
    let rmemMax: number;
    try {
      rmemMax = Number((await readFile('/proc/sys/net/core/rmem_max', 'utf8')).trim());
    } catch {
      t.skip('no /proc/sys/net/core (not Linux)');
      return;
    }
    const listening = vx.logs.find((l) => l.msg === 'SIP listening');
    assert.equal(listening?.udpReceiveBufferBytes, 2 * Math.min(2048 * 1024, rmemMax));
  });

  test('/healthz and /readyz answer 200; /metrics is Prometheus text', async () => {
    assert.equal((await fetch(`${vx.httpUrl}/healthz`)).status, 200);
    const ready = await fetch(`${vx.httpUrl}/readyz`);
    const report = (await ready.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    assert.equal(ready.status, 200, JSON.stringify(report));
    assert.equal(report.checks.store?.ok, true);
    const metrics = await fetch(`${vx.httpUrl}/metrics`);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.match(text, /^voxgate_module_up\{module="sip-gateway"\} 1$/m);
    assert.match(text, /^voxgate_build_info\{version="[^"]+",target="all",env="dev"\} 1$/m);
  });

  test('SIP OPTIONS over UDP gets 200 with Allow; an INVITE without credentials gets 407', async () => {
    const ok = await udpRequest(vx.sipUdpPort!, sipRequest('OPTIONS', vx.sipUdpPort!));
    assert.equal(statusLine(ok), 'SIP/2.0 200 OK');
    assert.match(ok.toString('latin1'), /\r\nAllow: OPTIONS, REGISTER, INVITE, ACK, CANCEL, BYE/i);
    const invite = await udpRequest(
      vx.sipUdpPort!,
      sipRequest('INVITE', vx.sipUdpPort!, ['Contact: <sip:probe@127.0.0.1:9>']),
    );
    assert.equal(statusLine(invite), 'SIP/2.0 407 Proxy Authentication Required');
  });

  test('SIP traffic shows in /metrics, unknown methods under one label', async () => {
    await udpRequest(vx.sipUdpPort!, sipRequest('FROBNICATE', vx.sipUdpPort!));
    await udpRequest(
      vx.sipUdpPort!,
      sipRequest('OPTIONS', vx.sipUdpPort!).replace(/Call-ID: [^\r]*\r\n/, ''),
    );
    const text = await (await fetch(`${vx.httpUrl}/metrics`)).text();
    assert.match(text, /^voxgate_sip_requests_received_total\{method="OPTIONS",transport="udp"\} [1-9]/m);
    assert.match(text, /^voxgate_sip_requests_received_total\{method="other",transport="udp"\} 1$/m);
    assert.match(text, /^voxgate_sip_responses_sent_total\{method="INVITE",code="407"\} 1$/m);
    assert.match(text, /^voxgate_sip_parse_errors_total\{code="SIP_PARSE_MISSING_HEADER"\} 1$/m);
  });

  test('store, job, transaction and registration metrics are exported', async () => {
    // The INVITE of an earlier test left a server transaction (Timer H/L); the worker's jobs have run.
    let text = '';
    for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      text = await (await fetch(`${vx.httpUrl}/metrics`)).text();
      if (/^voxgate_job_runs_total\{job="cdr-writer",outcome="ok"\} [1-9]/m.test(text)) break;
    }
    assert.match(text, /^voxgate_job_runs_total\{job="cdr-writer",outcome="ok"\} [1-9]/m);
    assert.match(text, /^voxgate_job_duration_seconds_count\{job="cdr-writer"\} [1-9]/m);
    assert.match(text, /^voxgate_store_query_duration_seconds_count\{outcome="ok"\} [1-9]/m);
    assert.match(text, /^voxgate_sip_transactions\{kind="server"\} \d+$/m);
    assert.match(text, /^voxgate_registrations \d+$/m);
    assert.match(text, /^# TYPE voxgate_sip_retransmissions_total counter$/m);
  });

  test('the media relay answers an ng ping', async () => {
    const reply = await udpRequest(vx.ngPort!, 'c00kie d7:command4:pinge');
    assert.equal(reply.toString(), 'c00kie d6:result4:ponge');
    const text = await (await fetch(`${vx.httpUrl}/metrics`)).text();
    assert.match(text, /^voxgate_media_ng_commands_total\{command="ping",result="pong",cached="false"\} 1$/m);
  });

  test('first start generates the admin API key, prints it once, and it authenticates', async () => {
    const generated = vx.logs.find((l) => typeof l.apiKey === 'string');
    assert.ok(generated, 'the generated key is printed');
    const key = generated.apiKey as string;
    const me = await fetch(`${vx.httpUrl}/v1/whoami`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(me.status, 200);
    assert.deepEqual(((await me.json()) as { role: string }).role, 'admin');
    const bad = await fetch(`${vx.httpUrl}/v1/whoami`, { headers: { authorization: `Bearer ${key}x` } });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal(((await bad.json()) as { status: number }).status, 401);
  });

  test('SIGTERM drains and exits 0; a restart on the same data keeps the key and prints none', async () => {
    const key = vx.logs.find((l) => typeof l.apiKey === 'string')?.apiKey as string;
    assert.equal(await vx.stop('SIGTERM'), 0);
    assert.ok(vx.logs.some((l) => l.msg === 'voxgate stopped'));
    vx = await startVoxgate(['--target=api'], {}, { dataDir });
    assert.ok(!vx.logs.some((l) => 'apiKey' in l), 'no second key printed');
    const me = await fetch(`${vx.httpUrl}/v1/whoami`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(me.status, 200);
  });
});

describe('voxgate command line', () => {
  test('a bad configuration value exits 78 with one line naming it', async () => {
    const { code, stderr, stdout } = await runVoxgate([], { VOXGATE_API_PORT: 'eighty' });
    assert.equal(code, 78);
    assert.equal(
      stderr,
      'voxgate: configuration error: VOXGATE_API_PORT="eighty" is invalid: expected an integer port from 0 to 65535\n',
    );
    assert.equal(stdout, '');
  });

  test('a sip-gateway without Redis and without a worker says that its call events make no CDRs', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'voxgate-gw-'));
    const gw = await startVoxgate(
      ['--target=sip-gateway'],
      { VOXGATE_SIP_PORT: '0', VOXGATE_SIP_WS_PORT: '0', VOXGATE_API_PORT: '0' },
      { dataDir },
    );
    try {
      const warning = gw.logs.find((l) => String(l.msg).includes('no CDRs'));
      assert.equal(warning?.level, 'warn');
      assert.match(String(warning?.msg), /VOXGATE_REDIS_URL/);
    } finally {
      await gw.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('an unknown target exits 78 naming it', async () => {
    const { code, stderr } = await runVoxgate(['--target=api,pbx'], {});
    assert.equal(code, 78);
    assert.match(stderr, /^voxgate: configuration error: --target=api,pbx is invalid: 'pbx' is not one of/);
  });

  test('--help explains targets and settings', async () => {
    const { code, stdout } = await runVoxgate(['--help'], {});
    assert.equal(code, 0);
    for (const word of [
      'sip-gateway',
      'media-relay',
      'worker',
      '--env-file',
      'VOXGATE_DATABASE_URL',
      'VOXGATE_MEDIA_NG',
    ]) {
      assert.ok(stdout.includes(word), `--help mentions ${word}`);
    }
  });

  test('config print reads an env file and masks secrets', async () => {
    const { code, stdout } = await runVoxgate(
      ['config', 'print', '--env-file=config/environments/staging.env'],
      {
        VOXGATE_DATABASE_URL: 'postgres://voxgate:topsecret@db:5432/voxgate',
      },
    );
    assert.equal(code, 0);
    assert.match(stdout, /^VOXGATE_ENV=staging {2}# set/m);
    assert.match(stdout, /^VOXGATE_DATABASE_URL=postgres:\/\/voxgate:\*\*\*\*@db:5432\/voxgate/m);
    assert.ok(!stdout.includes('topsecret'));
  });

  test('every shipped env file is valid', async () => {
    for (const env of ['dev', 'staging', 'production']) {
      const { code, stderr } = await runVoxgate(
        ['config', 'print', `--env-file=config/environments/${env}.env`],
        {},
      );
      assert.equal(code, 0, `${env}.env: ${stderr}`);
    }
  });

  test('a missing env file stops the start with one line naming it', async () => {
    // Node 20 itself scans argv for --env-file, even after the script name, and exits 9 with
    // "node: <path>: not found" before voxgate runs; newer Node leaves it to voxgate (exit 78).
    const { code, stderr } = await runVoxgate(['--env-file=config/environments/nope.env'], {});
    assert.ok(code === 78 || code === 9, `exit code ${code}`);
    assert.match(stderr, /config\/environments\/nope\.env: (no such file|not found)/);
    assert.equal(stderr.trim().split('\n').length, 1);
  });
});
