// `voxgate ctl` against the real API over HTTP: the API app of the API tests (test/helpers/api-app.ts) on a
// loopback port, tenants, users and a trunk provisioned through /v1, registrations, live calls and trunk
// health put into its shared state as the gateway would, CDRs written as the worker writes them. The CLI runs
// in-process (runCli with captured output), and once as the binary for the wiring of stdout, exit codes and
// Ctrl-C.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { runCli, type CliIo } from '../../src/platform/cli.js';
import { loadConfig } from '../../src/platform/config/index.js';
import {
  CALL_COMMANDS_STREAM,
  CALL_EVENTS_STREAM,
  createCdrRepository,
  decodeCallCommand,
  encodeCallEvent,
  type CallEvent,
} from '../../src/store/index.js';
import { startApiApp, type ApiApp } from '../helpers/api-app.js';
import { storeBackends } from '../helpers/store-backends.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { isolatedEnv, runVoxgate } from '../helpers/voxgate-process.js';

const pglite = (await storeBackends()).find((b) => b.name === 'PGlite (memory://)')!;

interface Run {
  code: number;
  out: string[];
  err: string[];
}

/** A port nothing listens on: one the system just gave out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Waits until `done()` holds (or, with `settle`, for that long while it holds), else fails naming `what`. */
async function waitFor(done: () => boolean, what: string, settle = 0): Promise<void> {
  const deadline = Date.now() + 10_000;
  if (settle > 0) {
    await new Promise((r) => setTimeout(r, settle));
    assert.ok(done(), `not ${what}`);
    return;
  }
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('voxgate ctl: the operator CLI over the API', () => {
  let api: ApiApp;
  let cleanup: () => Promise<void>;
  let url: string;
  let admin: string;
  let acme: string;
  let acmeKey: string;
  const now = Date.now();

  /** Runs `voxgate ctl args…` in-process with `key` (undefined: none) against the API. */
  async function ctl(
    key: string | undefined,
    args: string[],
    env: Record<string, string> = {},
  ): Promise<Run> {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      env: { VOXGATE_API_URL: url, ...(key ? { VOXGATE_API_KEY: key } : {}), ...env },
      out: (line) => out.push(...line.split('\n')),
      err: (line) => err.push(line),
    };
    const outcome = await runCli(['ctl', ...args], io);
    assert.ok('exitCode' in outcome);
    return { code: outcome.exitCode, out, err };
  }

  const json = <T>(run: Run): T => {
    assert.equal(run.code, 0, run.err.join('\n'));
    return JSON.parse(run.out.join('\n')) as T;
  };

  const post = async (path: string, body: unknown) => {
    const res = await api.call(admin, 'POST', path, body);
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ id: string }>().id;
  };

  const ended = (callId: string, extra: Partial<CallEvent> = {}): CallEvent => ({
    type: 'ended',
    callId,
    tenantId: acme,
    direction: 'internal',
    from: 'sip:alice@acme.example',
    to: 'sip:bob@acme.example',
    startedAt: now - 120_000,
    answeredAt: now - 115_000,
    endedAt: now - 50_000,
    disposition: 'answered',
    sipCode: 200,
    ...extra,
  });

  before(async () => {
    const opened = await pglite.open();
    api = await startApiApp(opened.db);
    cleanup = async () => {
      await api.close();
      await opened.db.close();
      await opened.cleanup();
    };
    url = await api.listen();
    admin = await api.key(null, 'admin');
    acme = await post('/v1/tenants', { name: 'Acme', sipDomain: 'acme.example' });
    acmeKey = await api.key(acme, 'viewer');
    for (const username of ['alice', 'bob']) {
      await post(`/v1/tenants/${acme}/users`, { username, password: 'correct horse' });
    }
    const carrier = await post(`/v1/tenants/${acme}/trunks`, {
      name: 'carrier',
      host: 'sip.carrier.example',
    });
    await post(`/v1/tenants/${acme}/trunks`, {
      name: 'backup',
      host: 'backup.carrier.example',
      transport: 'tcp',
    });
    await api.state.trunkStatus.report(
      carrier,
      { gateway: '10.0.0.1:5060', reachable: true, checkedAt: Date.parse('2026-02-03T04:05:06.789Z') },
      600,
    );
    const binding = {
      expiresAt: now + 3600_000,
      callId: 'reg-1',
      cseq: 1,
      tenantId: acme,
    };
    await api.state.registrations.put('sip:alice@acme.example', {
      ...binding,
      contact: 'sip:alice@192.0.2.10:5070;transport=udp',
      source: { address: '192.0.2.10', port: 5070 },
      transport: 'udp',
    });
    await api.state.registrations.put('sip:bob@acme.example', {
      ...binding,
      contact: 'sip:bob@192.0.2.11:5072;transport=tcp',
      source: { address: '192.0.2.11', port: 40123 },
      transport: 'tcp',
    });
    await api.state.calls.put({
      callId: 'live-1',
      tenantId: acme,
      from: 'sip:alice@acme.example',
      to: 'sip:bob@acme.example',
      state: 'answered',
      startedAt: now - 65_000,
      answeredAt: now - 60_000,
    });
    const cdrs = createCdrRepository(api.db);
    await cdrs.upsertFromEvent(ended('cdr-answered'));
    await cdrs.upsertFromEvent(
      ended('cdr-busy', {
        startedAt: now - 100_000,
        answeredAt: undefined,
        endedAt: now - 99_000,
        disposition: 'busy',
        sipCode: 486,
        to: 'sip:carol@acme.example',
      }),
    );
  });
  after(() => cleanup());

  test('tenants: a table of id, name and SIP domain, or one JSON document', async () => {
    const run = await ctl(admin, ['tenants']);
    assert.equal(run.code, 0, run.err.join('\n'));
    assert.deepEqual(run.out, [
      'ID                                    NAME  SIP DOMAIN',
      `${acme}  Acme  acme.example`,
    ]);
    const doc = json<{ items: { id: string; sipDomain: string }[] }>(await ctl(admin, ['tenants', '--json']));
    assert.deepEqual(
      doc.items.map((t) => [t.id, t.sipDomain]),
      [[acme, 'acme.example']],
    );
  });

  test('registrations: AOR, contact, transport, source and expiry; the only tenant needs no --tenant', async () => {
    const run = await ctl(admin, ['registrations']);
    assert.equal(run.code, 0, run.err.join('\n'));
    assert.match(run.out[0] ?? '', /^AOR\s+CONTACT\s+TRANSPORT\s+SOURCE\s+EXPIRES$/);
    assert.match(
      run.out[1] ?? '',
      /^sip:alice@acme\.example {2}sip:alice@192\.0\.2\.10:5070;transport=udp {2}udp {8}192\.0\.2\.10:5070 {3}3[56]\d\ds$/,
    );
    assert.match(
      run.out[2] ?? '',
      /^sip:bob@acme\.example {4}sip:bob@192\.0\.2\.11:5072;transport=tcp {4}tcp/,
    );
    assert.equal(run.out.length, 3);
    const doc = json<{ tenant: { id: string }; items: { aor: string; source: string; transport: string }[] }>(
      await ctl(admin, ['registrations', '--json', '--tenant', 'acme.example']),
    );
    assert.equal(doc.tenant.id, acme);
    assert.deepEqual(
      doc.items.map((r) => [r.aor, r.transport, r.source]),
      [
        ['sip:alice@acme.example', 'udp', '192.0.2.10:5070'],
        ['sip:bob@acme.example', 'tcp', '192.0.2.11:40123'],
      ],
    );
  });

  test('calls: live calls with state, ISO start and the duration since the start', async () => {
    const run = await ctl(admin, ['calls', '--tenant', acme]);
    assert.equal(run.code, 0, run.err.join('\n'));
    assert.match(run.out[0] ?? '', /^CALL ID\s+FROM\s+TO\s+STATE\s+STARTED\s+DURATION$/);
    const started = new Date(now - 65_000).toISOString();
    assert.match(
      run.out[1] ?? '',
      new RegExp(
        `^live-1 {3}sip:alice@acme\\.example {2}sip:bob@acme\\.example {2}answered {2}${started} {2}0:01:\\d\\d$`,
      ),
    );
    const doc = json<{
      items: { callId: string; state: string; startedAt: string; elapsedSeconds: number }[];
    }>(await ctl(admin, ['calls', '--json']));
    assert.equal(doc.items.length, 1);
    assert.equal(doc.items[0]?.startedAt, started);
    assert.ok((doc.items[0]?.elapsedSeconds ?? 0) >= 65);
  });

  test('cdrs: newest first, --limit and the API filters', async () => {
    const run = await ctl(admin, ['cdrs']);
    assert.equal(run.code, 0, run.err.join('\n'));
    assert.match(
      run.out[0] ?? '',
      /^STARTED\s+CALL ID\s+DIRECTION\s+FROM\s+TO\s+DISPOSITION\s+CODE\s+DURATION$/,
    );
    assert.match(
      run.out[1] ?? '',
      /cdr-busy {6}internal {3}sip:alice@acme\.example {2}sip:carol@acme\.example {2}busy {9}486 {3}0:00:00$/,
    );
    assert.match(run.out[2] ?? '', /cdr-answered {2}internal .* answered {5}200 {3}0:01:05$/);
    assert.equal(run.out.length, 3);
    const one = json<{ items: { callId: string }[]; nextCursor: string | null }>(
      await ctl(admin, ['cdrs', '--limit', '1', '--json']),
    );
    assert.deepEqual(
      one.items.map((c) => c.callId),
      ['cdr-busy'],
    );
    assert.equal(one.nextCursor, 'cdr-busy', 'where the next page would start');
    const answered = json<{ items: { callId: string }[] }>(
      await ctl(admin, ['cdrs', '--disposition', 'answered', '--json']),
    );
    assert.deepEqual(
      answered.items.map((c) => c.callId),
      ['cdr-answered'],
    );
    assert.deepEqual((await ctl(admin, ['cdrs', '--party', 'nobody'])).out, [
      'no CDRs in acme.example matching the filters',
    ]);
    const refused = await ctl(admin, ['cdrs', '--disposition', 'lost']);
    assert.equal(refused.code, 1);
    assert.deepEqual(refused.err, [
      'voxgate ctl: cdrs: 400 The request is not valid: querystring/disposition must be equal to one of the allowed values',
    ]);
  });

  test('trunks: name, host, health and the last check', async () => {
    const run = await ctl(admin, ['trunks']);
    assert.equal(run.code, 0, run.err.join('\n'));
    assert.deepEqual(run.out, [
      'NAME     HOST                             ENABLED  HEALTH   LAST CHECK',
      'backup   tcp:backup.carrier.example:5060  yes      unknown  -',
      'carrier  udp:sip.carrier.example:5060     yes      up       2026-02-03T04:05:06.789Z',
    ]);
    const doc = json<{ items: { name: string; health: { state: string } }[] }>(
      await ctl(admin, ['trunks', '--json']),
    );
    assert.deepEqual(
      doc.items.map((t) => [t.name, t.health.state]),
      [
        ['backup', 'unknown'],
        ['carrier', 'up'],
      ],
    );
  });

  test('a tenant key works on its own tenant; a platform key with several tenants is told how to choose', async () => {
    const beta = await post('/v1/tenants', { name: 'Beta', sipDomain: 'beta.example' });
    try {
      const own = await ctl(acmeKey, ['calls']);
      assert.equal(own.code, 0, own.err.join('\n'));
      assert.match(own.out[1] ?? '', /^live-1 /);
      const ambiguous = await ctl(admin, ['calls']);
      assert.equal(ambiguous.code, 78);
      assert.deepEqual(ambiguous.out, []);
      assert.deepEqual(ambiguous.err, [
        "voxgate ctl: calls: 2 tenants: choose one with --tenant <id|sipDomain> (acme.example, beta.example; 'voxgate ctl tenants' lists them)",
      ]);
      assert.deepEqual((await ctl(admin, ['calls', '--tenant', 'beta.example'])).out, [
        'no live calls in beta.example',
      ]);
      const unknown = await ctl(admin, ['trunks', '--tenant', 'gamma.example']);
      assert.equal(unknown.code, 1);
      assert.deepEqual(unknown.err, [
        "voxgate ctl: trunks: no tenant has the id or SIP domain gamma.example ('voxgate ctl tenants' lists them)",
      ]);
      const other = await ctl(acmeKey, ['calls', '--tenant', beta]);
      assert.equal(other.code, 1);
      assert.match(other.err[0] ?? '', /^voxgate ctl: calls: 404 No such resource: /);
    } finally {
      assert.equal((await api.call(admin, 'DELETE', `/v1/tenants/${beta}`)).statusCode, 204);
    }
  });

  test('errors are one line: no key, a bad key (401 problem), an unreachable API, a missing argument', async () => {
    const missing = await ctl(undefined, ['calls']);
    assert.equal(missing.code, 78);
    assert.deepEqual(missing.out, []);
    assert.equal(missing.err.length, 1);
    assert.match(missing.err[0] ?? '', /^voxgate ctl: calls: VOXGATE_API_KEY is not set/);

    const bad = await ctl('vxg_000000000000_nope', ['tenants']);
    assert.equal(bad.code, 1);
    assert.deepEqual(bad.err, [
      'voxgate ctl: tenants: 401 Missing or invalid API key: the API key is unknown, malformed or revoked',
    ]);

    const port = await closedPort();
    const down = await ctl(admin, ['tenants'], { VOXGATE_API_URL: `http://127.0.0.1:${port}` });
    assert.equal(down.code, 1);
    assert.deepEqual(down.err, [
      `voxgate ctl: tenants: cannot reach the API at http://127.0.0.1:${port}: connection refused (is voxgate running? VOXGATE_API_URL)`,
    ]);

    const noCall = await ctl(admin, ['hangup']);
    assert.equal(noCall.code, 78);
    assert.deepEqual(noCall.err, [
      "voxgate ctl: hangup: <callId> is missing; run 'voxgate ctl hangup --help'",
    ]);
    const twoAors = await ctl(admin, ['kick', 'sip:a@acme.example', 'sip:b@acme.example']);
    assert.equal(twoAors.code, 78);
    assert.deepEqual(twoAors.err, ['voxgate ctl: kick: takes <aor> only, not sip:b@acme.example']);
    const positional = await ctl(admin, ['calls', 'live-1']);
    assert.equal(positional.code, 78);
    assert.ok(await api.state.calls.get('live-1'), 'nothing was done to the call');

    const usage = await ctl(admin, ['calls', '--limit', '3']);
    assert.equal(usage.code, 78);
    assert.match(usage.err[0] ?? '', /Unknown option '--limit'/);
    assert.equal(
      (await ctl(admin, ['--help'])).out.filter((l) => /event stream \(GET …\/events\/stream, SSE\)/.test(l))
        .length,
      1,
    );
  });

  test('tail: from the event stream, one line per call that ends from now on, and with --live per state change, until stopped', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const stop = new AbortController();
    const seen = (predicate: (lines: string[]) => boolean, what: string) =>
      new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 10_000;
        const check = () => {
          if (predicate(out)) return resolve();
          if (Date.now() > deadline) return reject(new Error(`no ${what} in ${JSON.stringify(out)}`));
          setTimeout(check, 50);
        };
        check();
      });
    const tailing = runCli(['ctl', 'tail', '--live', '--json'], {
      env: { VOXGATE_API_URL: url, VOXGATE_API_KEY: acmeKey },
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      signal: stop.signal,
    });
    // With --live the calls there at the start are shown first; the CDRs already there are not.
    await seen((lines) => lines.length >= 1, 'baseline');
    const events = () => out.map((l) => JSON.parse(l) as { event: string; callId: string; state?: string });
    assert.deepEqual(events(), [{ ...events()[0], event: 'state', callId: 'live-1', state: 'answered' }]);

    // The gateway's call events, as it publishes them; the API's stream hands them to tail.
    const publish = (event: CallEvent) =>
      api.state.events.publish(CALL_EVENTS_STREAM, encodeCallEvent(event));
    const ringingAt = Date.now();
    await publish({
      ...ended('tail-1', { from: 'sip:bob@acme.example', to: 'sip:alice@acme.example' }),
      type: 'ringing',
      startedAt: ringingAt - 400,
      answeredAt: undefined,
      endedAt: undefined,
      disposition: undefined,
      sipCode: undefined,
      ringingAt,
    });
    await seen((lines) => lines.some((l) => l.includes('"tail-1"')), 'ringing tail-1');
    // live-1 ends, and a call too short to be seen live; their CDRs need not be written yet.
    await publish(
      ended('live-1', { startedAt: now - 65_000, answeredAt: now - 60_000, endedAt: Date.now() }),
    );
    await publish(
      ended('short-1', {
        startedAt: Date.now() - 500,
        answeredAt: undefined,
        endedAt: Date.now(),
        disposition: 'no-answer',
        sipCode: 480,
      }),
    );
    await seen((lines) => lines.filter((l) => l.includes('"ended"')).length >= 2, 'two ended calls');
    stop.abort();
    const outcome = await tailing;
    assert.deepEqual(outcome, { exitCode: 0 });
    assert.deepEqual(err, []);
    const all = events();
    assert.deepEqual(
      all.filter((e) => e.event === 'state').map((e) => [e.callId, e.state]),
      [
        ['live-1', 'answered'],
        ['tail-1', 'ringing'],
      ],
    );
    // Each ended call once, in the order they ended; the CDRs there before tail started: never.
    assert.deepEqual(
      all.filter((e) => e.event === 'ended').map((e) => e.callId),
      ['live-1', 'short-1'],
    );
    const short = all.find((e) => e.callId === 'short-1') as unknown as Record<string, unknown>;
    assert.equal(short.disposition, 'no-answer');
    assert.equal(short.sipCode, 480);
    assert.equal(short.tenantId, acme);
    assert.equal(all.length, 4);
    await api.state.calls.remove('tail-1');
    await api.state.calls.put({
      callId: 'live-1',
      tenantId: acme,
      from: 'sip:alice@acme.example',
      to: 'sip:bob@acme.example',
      state: 'answered',
      startedAt: now - 65_000,
      answeredAt: now - 60_000,
    });
  });

  test('tail: an API that goes away is said once on stderr, retried every second, and followed again', async () => {
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(url).port));
    const out: string[] = [];
    const err: string[] = [];
    const stop = new AbortController();
    const tailing = runCli(['ctl', 'tail'], {
      env: { VOXGATE_API_URL: `http://127.0.0.1:${proxy.port}`, VOXGATE_API_KEY: acmeKey },
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      signal: stop.signal,
    });
    try {
      await waitFor(() => err.length === 0 && out.length === 0, 'tail started', 1500);
      await proxy.kill();
      await waitFor(() => err.length >= 1, 'the outage said');
      assert.match(
        err[0] ?? '',
        new RegExp(
          `^voxgate ctl: tail: cannot reach the API at http://127\\.0\\.0\\.1:${proxy.port}: .*; retrying every second$`,
        ),
      );
      // A call that ends while the API is unreachable is shown once it answers again.
      await createCdrRepository(api.db).upsertFromEvent(
        ended('during-outage', {
          startedAt: Date.now() - 3000,
          answeredAt: Date.now() - 2000,
          endedAt: Date.now(),
        }),
      );
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(err.length, 1, 'said once per outage');
      await proxy.revive();
      await waitFor(() => out.some((l) => l.includes('during-outage')), 'the call ended meanwhile');
      assert.deepEqual(err.slice(1), ['voxgate ctl: tail: the API answers again']);
      assert.match(
        out.find((l) => l.includes('during-outage')) ?? '',
        /^\S+Z {2}ended {5}during-outage {2}sip:alice@acme\.example -> sip:bob@acme\.example {2}answered 200 {2}0:00:0\d$/,
      );
    } finally {
      stop.abort();
      assert.deepEqual(await tailing, { exitCode: 0 });
      await proxy.kill();
    }
  });

  test('the binary: `voxgate ctl` prints to stdout and exits with the code; a closed pipe and Ctrl-C end it with 0', async () => {
    const env = { VOXGATE_API_URL: url, VOXGATE_API_KEY: admin };
    const listed = await runVoxgate(['ctl', 'tenants'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^ID +NAME +SIP DOMAIN\n${acme} {2}Acme {2}acme\\.example\n$`));
    const hangup = await runVoxgate(['ctl', 'hangup', 'no-such-call'], env);
    assert.equal(hangup.code, 1);
    assert.equal(hangup.stderr.trim().split('\n').length, 1);
    assert.match(hangup.stderr, /404 No such resource: no live call no-such-call/);
    const usage = await runVoxgate(['ctl', 'kick'], env);
    assert.equal(usage.code, 78);

    // `voxgate ctl … | head`: the reader gone before the output, no stack trace, exit 0.
    const piped = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/bin/voxgate.ts', 'ctl', 'tenants', '--json'],
      {
        env: isolatedEnv(env),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    piped.stdout.destroy();
    let pipedErr = '';
    piped.stderr.on('data', (d: Buffer) => (pipedErr += d.toString()));
    const [pipedCode] = (await once(piped, 'exit')) as [number | null];
    assert.equal(pipedErr, '');
    assert.equal(pipedCode, 0);

    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/bin/voxgate.ts', 'ctl', 'tail', '--live'],
      {
        env: isolatedEnv(env),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit') as Promise<[number | null]>;
    // The live call is the first line: tail is following.
    const deadline = Date.now() + 20_000;
    while (!stdout.includes('live-1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.match(stdout, /answered +live-1 +sip:alice@acme\.example -> sip:bob@acme\.example\n$/, stderr);
    child.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
  });

  test('VOXGATE_API_URL and VOXGATE_API_KEY in the environment do not stop the server from starting', () => {
    assert.doesNotThrow(() => loadConfig({ VOXGATE_API_URL: url, VOXGATE_API_KEY: admin }));
  });
  test('hangup and kick: through the API with an operator key; a viewer is refused; a missing call is 404', async () => {
    const operator = await api.key(acme, 'operator');
    await api.state.calls.put({
      callId: 'to-end',
      tenantId: acme,
      from: 'sip:alice@acme.example',
      to: 'sip:carol@acme.example',
      state: 'answered',
      startedAt: now - 10_000,
      answeredAt: now - 9_000,
      gateway: 'gw-1',
    });
    const viewer = await ctl(acmeKey, ['hangup', 'to-end']);
    assert.equal(viewer.code, 1);
    assert.deepEqual(viewer.err, [
      'voxgate ctl: hangup: 403 The API key lacks the role for this operation: this operation needs the operator role; the key has viewer',
    ]);
    const ended = await ctl(operator, ['hangup', 'to-end']);
    assert.equal(ended.code, 0, ended.err.join('\n'));
    assert.deepEqual(ended.out, [
      'ending call to-end (sip:alice@acme.example → sip:carol@acme.example, answered)',
    ]);
    const command = (
      await api.state.events.consume(CALL_COMMANDS_STREAM, 'ctl-test', 'c', { count: 100 })
    ).map((e) => decodeCallCommand(e.fields));
    assert.deepEqual(
      command.map((c) => [c?.type, c?.callId, c?.gateway]),
      [['hangup', 'to-end', 'gw-1']],
    );
    const doc = json<{ tenant: { sipDomain: string }; call: { callId: string; gateway: string } }>(
      await ctl(admin, ['hangup', 'to-end', '--json', '--tenant', 'acme.example']),
    );
    assert.deepEqual(
      [doc.tenant.sipDomain, doc.call.callId, doc.call.gateway],
      ['acme.example', 'to-end', 'gw-1'],
    );
    await api.state.calls.remove('to-end');
    const gone = await ctl(operator, ['hangup', 'to-end']);
    assert.equal(gone.code, 1);
    assert.deepEqual(gone.err, ['voxgate ctl: hangup: 404 No such resource: no live call to-end']);

    const binding = {
      expiresAt: now + 3600_000,
      callId: 'reg-carol',
      cseq: 1,
      tenantId: acme,
      source: { address: '192.0.2.12', port: 5060 },
      transport: 'udp' as const,
    };
    const aor = 'sip:carol@acme.example';
    await api.state.registrations.put(aor, { ...binding, contact: 'sip:carol@192.0.2.12:5060' });
    await api.state.registrations.put(aor, { ...binding, contact: 'sip:carol@192.0.2.13:5060' });
    assert.equal((await ctl(acmeKey, ['kick', aor])).code, 1, 'a viewer cannot kick');
    // The tenant is the AOR's domain: a platform key needs no --tenant.
    const one = await ctl(admin, ['kick', aor, '--contact', 'sip:carol@192.0.2.12:5060']);
    assert.equal(one.code, 0, one.err.join('\n'));
    assert.deepEqual(one.out, [
      'removed the registration of sip:carol@acme.example at sip:carol@192.0.2.12:5060',
    ]);
    assert.deepEqual(
      (await api.state.registrations.list(aor)).map((b) => b.contact),
      ['sip:carol@192.0.2.13:5060'],
    );
    const all = json<{ aor: string; contact: null; removed: boolean }>(
      await ctl(operator, ['kick', aor, '--json']),
    );
    assert.deepEqual([all.aor, all.contact, all.removed], [aor, null, true]);
    assert.deepEqual(await api.state.registrations.list(aor), []);
    const none = await ctl(operator, ['kick', aor]);
    assert.equal(none.code, 1);
    assert.deepEqual(none.err, [
      'voxgate ctl: kick: 404 No such resource: no registration of sip:carol@acme.example',
    ]);
  });
});
