import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { createCdrRepository, openDatabase, StoreError } from '../../src/store/index.js';
import { createScratchDatabase, postgresAvailable } from '../helpers/postgres.js';
import { storeBackends } from '../helpers/store-backends.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';
import { startApiApp, type ApiApp } from '../helpers/api-app.js';

/*
 * Input PostgreSQL cannot store, the router's own refusals and a database outage, over real HTTP against
 * PGlite and the real PostgreSQL: every answer is an RFC 9457 problem, a 4xx naming the member for bad input
 * and a 503 with Retry-After for the outage; nothing is ever a 500.
 */

interface Problem {
  type: string;
  status: number;
  title: string;
  detail: string;
  errors?: { where: string; pointer: string; detail: string }[];
}

const NUL = '\u0000';
const BIG = 3_000_000_000;

/** Sends one request; a body that is not a string is sent as JSON. */
async function send(
  base: string,
  key: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body === undefined ? {} : { 'content-type': contentType }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Asserts an RFC 9457 problem with `status` (and the member `pointer`, when given) and returns it. */
function problemOf(
  res: { status: number; headers: Headers; text: string },
  status: number,
  label: string,
  pointer?: string,
): Problem {
  assert.equal(res.status, status, `${label}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, label);
  const problem = JSON.parse(res.text) as Problem;
  assert.equal(problem.status, status, label);
  assert.match(problem.type, /^\/problems\/[a-z-]+$/, label);
  if (pointer !== undefined) {
    assert.equal(problem.type, '/problems/validation-failed', label);
    assert.equal(problem.errors?.[0]?.pointer, pointer, `${label}: ${res.text}`);
    assert.ok(problem.detail.includes(pointer), `${label}: the detail names ${pointer}: ${problem.detail}`);
  }
  return problem;
}

/** Sends `request` as is on a TCP connection to `base` and returns what comes back until the server closes. */
async function rawHttp(
  base: string,
  request: string,
): Promise<{ status: number; headers: Headers; text: string }> {
  const url = new URL(base);
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.end(request));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(data));
  });
  const [head = '', text = ''] = answer.split('\r\n\r\n', 2);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = new Headers();
  for (const line of lines) {
    const i = line.indexOf(':');
    headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return { status: Number(statusLine.split(' ')[1]), headers, text };
}

const backends = (await storeBackends()).filter((b) => b.name !== 'PGlite (data directory)');

for (const backend of backends) {
  describe(`input hardening over HTTP: ${backend.name}`, { skip: backend.skip }, () => {
    let api: ApiApp;
    let base: string;
    let cleanup: () => Promise<void>;
    let admin: string;
    let tenant: string;
    let userId: string;
    let trunkId: string;
    let routeId: string;
    const call = (method: string, path: string, body?: unknown, contentType?: string) =>
      send(base, admin, method, path, body, contentType);

    before(async () => {
      const opened = await backend.open();
      api = await startApiApp(opened.db, { bodyLimit: 64 * 1024 });
      base = await api.listen();
      cleanup = async () => {
        await api.close();
        await opened.db.close();
        await opened.cleanup();
      };
      admin = await api.key(null, 'admin');
      tenant = await api.tenant('Acme');
      const user = await call('POST', `/v1/tenants/${tenant}/users`, {
        username: 'alice',
        password: 'secret-1234',
      });
      userId = (JSON.parse(user.text) as { id: string }).id;
      const trunk = await call('POST', `/v1/tenants/${tenant}/trunks`, {
        name: 'carrier',
        host: '192.0.2.1',
      });
      trunkId = (JSON.parse(trunk.text) as { id: string }).id;
      const route = await call('POST', `/v1/tenants/${tenant}/routes`, {
        name: 'all',
        pattern: '\\+?[0-9]+',
        trunkIds: [trunkId],
      });
      routeId = (JSON.parse(route.text) as { id: string }).id;
      assert.ok(userId && trunkId && routeId, 'fixtures created');
    });
    after(() => cleanup());

    test('NUL and unpaired surrogates in body strings: 400 naming the field on every resource, nothing written', async () => {
      const audit = await api.auditCount();
      const t = `/v1/tenants/${tenant}`;
      const cases: [string, string, unknown, string][] = [
        ['POST', '/v1/tenants', { name: `A${NUL}cme`, sipDomain: 'nul.example' }, '/name'],
        ['POST', '/v1/tenants', { name: 'Lone \ud800 surrogate', sipDomain: 'lone.example' }, '/name'],
        ['PATCH', t, { name: NUL }, '/name'],
        ['POST', `${t}/users`, { username: 'bob', password: `pass${NUL}word` }, '/password'],
        [
          'POST',
          `${t}/users`,
          { username: 'bob', password: 'password1', displayName: `B${NUL}b` },
          '/displayName',
        ],
        ['PATCH', `${t}/users/${userId}`, { callerId: `+44${NUL}` }, '/callerId'],
        ['PATCH', `${t}/users/${userId}`, { displayName: 'x\udc00' }, '/displayName'],
        ['POST', `${t}/trunks`, { name: `c${NUL}`, host: '192.0.2.2' }, '/name'],
        [
          'POST',
          `${t}/trunks`,
          { name: 'c2', host: '192.0.2.2', username: 'u', password: `p${NUL}` },
          '/password',
        ],
        ['PATCH', `${t}/trunks/${trunkId}`, { username: `u${NUL}`, password: 'p' }, '/username'],
        ['POST', `${t}/routes`, { name: 'r2', pattern: `1${NUL}`, trunkIds: [trunkId] }, '/pattern'],
        ['PATCH', `${t}/routes/${routeId}`, { name: `r${NUL}` }, '/name'],
        ['POST', '/v1/api-keys', { name: `k${NUL}`, role: 'viewer' }, '/name'],
      ];
      for (const [method, path, body, pointer] of cases) {
        const problem = problemOf(
          await call(method, path, body),
          400,
          `${method} ${path} ${pointer}`,
          pointer,
        );
        assert.equal(problem.errors?.[0]?.where, 'body');
        assert.match(problem.errors?.[0]?.detail ?? '', /NUL/);
      }
      assert.equal(await api.auditCount(), audit, 'nothing was written');
      // A surrogate pair (a character outside the BMP) is text like any other.
      const emoji = await call('PATCH', `${t}/users/${userId}`, { displayName: 'Alice \u{1F600}' });
      assert.equal(emoji.status, 200, emoji.text);
    });

    test('NUL in query and path parameters: 400 naming the parameter, never a database error', async () => {
      const t = `/v1/tenants/${tenant}`;
      const cases: [string, string, string][] = [
        [`${t}/users?after=%00`, 'querystring', '/after'],
        [`${t}/trunks?after=a%00b`, 'querystring', '/after'],
        [`${t}/numbers?after=%00`, 'querystring', '/after'],
        ['/v1/api-keys?after=%00', 'querystring', '/after'],
        [`${t}/calls?party=%00`, 'querystring', '/party'],
        [`${t}/calls?party=alice%00`, 'querystring', '/party'],
        [`${t}/calls/%00`, 'params', '/callId'],
        [`${t}/calls/abc%00def@host`, 'params', '/callId'],
      ];
      for (const [path, where, pointer] of cases) {
        const problem = problemOf(await call('GET', path), 400, path, pointer);
        assert.equal(problem.errors?.[0]?.where, where, path);
      }
      // The route cursor is opaque base64url JSON: its content is client input too.
      const cursor = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      for (const bad of [
        { priority: 1, name: NUL },
        { priority: 1e300, name: 'a' },
        { priority: BIG, name: 'a' },
      ]) {
        const res = await call('GET', `${t}/routes?after=${cursor(bad)}`);
        assert.match(problemOf(res, 400, JSON.stringify(bad)).detail, /cursor/);
      }
      const fine = await call('GET', `${t}/routes?after=${cursor({ priority: 1, name: 'a' })}`);
      assert.equal(fine.status, 200, fine.text);
    });

    test('integers beyond the PostgreSQL integer columns: 400 naming the field on tenants, users and trunks', async () => {
      const t = `/v1/tenants/${tenant}`;
      const cases: [string, string, unknown, string][] = [
        [
          'POST',
          '/v1/tenants',
          { name: 'Big', sipDomain: 'big.example', maxConcurrentCalls: BIG },
          '/maxConcurrentCalls',
        ],
        [
          'POST',
          '/v1/tenants',
          { name: 'Big', sipDomain: 'big.example', maxCallsPerSecond: 2 ** 31 },
          '/maxCallsPerSecond',
        ],
        ['PATCH', t, { maxConcurrentCalls: BIG }, '/maxConcurrentCalls'],
        ['PATCH', t, { maxCallsPerSecond: 1e20 }, '/maxCallsPerSecond'],
        [
          'POST',
          `${t}/users`,
          { username: 'big', password: 'password1', maxConcurrentCalls: BIG },
          '/maxConcurrentCalls',
        ],
        ['PATCH', `${t}/users/${userId}`, { maxConcurrentCalls: 2 ** 31 }, '/maxConcurrentCalls'],
        [
          'POST',
          `${t}/trunks`,
          { name: 'big', host: '192.0.2.3', maxConcurrentCalls: BIG },
          '/maxConcurrentCalls',
        ],
        ['PATCH', `${t}/trunks/${trunkId}`, { maxConcurrentCalls: BIG }, '/maxConcurrentCalls'],
        ['PATCH', `${t}/trunks/${trunkId}`, { port: 70000 }, '/port'],
        ['PATCH', `${t}/routes/${routeId}`, { priority: BIG }, '/priority'],
        ['PATCH', t, { maxConcurrentCalls: '3000000000' }, '/maxConcurrentCalls'],
      ];
      for (const [method, path, body, pointer] of cases) {
        const problem = problemOf(
          await call(method, path, body),
          400,
          `${method} ${path} ${pointer}`,
          pointer,
        );
        assert.match(problem.errors?.[0]?.detail ?? '', /must be <=/, pointer);
      }
      // Strings a number parser turns into Infinity: Ajv's coercion would let them past the range checks.
      const infinite: [string, string, unknown, string][] = [
        ['PATCH', t, { maxConcurrentCalls: 'Infinity' }, '/maxConcurrentCalls'],
        ['PATCH', t, { maxCallsPerSecond: '1e400' }, '/maxCallsPerSecond'],
        ['PATCH', `${t}/users/${userId}`, { maxConcurrentCalls: '-1e999' }, '/maxConcurrentCalls'],
        ['POST', `${t}/trunks`, { name: 'inf', host: '192.0.2.4', port: 'Infinity' }, '/port'],
        ['PATCH', `${t}/routes/${routeId}`, { stripDigits: 'Infinity' }, '/stripDigits'],
      ];
      for (const [method, path, body, pointer] of infinite)
        problemOf(await call(method, path, body), 400, `${method} ${path} ${JSON.stringify(body)}`, pointer);
      for (const q of [
        'limit=1e20',
        'limit=99999999999999999999',
        'limit=-1',
        'limit=1e400',
        'limit=Infinity',
      ])
        problemOf(await call('GET', `${t}/users?${q}`), 400, q, '/limit');
      problemOf(await call('GET', '/v1/tenants?limit=Infinity'), 400, 'tenants limit', '/limit');
      problemOf(await call('GET', '/v1/audit?limit=1e400'), 400, 'audit limit', '/limit');
      // The largest value the columns hold is accepted and stored.
      for (const [path, field] of [
        [t, 'maxConcurrentCalls'],
        [t, 'maxCallsPerSecond'],
        [`${t}/users/${userId}`, 'maxConcurrentCalls'],
        [`${t}/trunks/${trunkId}`, 'maxConcurrentCalls'],
      ] as const) {
        const res = await call('PATCH', path, { [field]: 2_147_483_647 });
        assert.equal(res.status, 200, `${path}: ${res.text}`);
        assert.equal((JSON.parse(res.text) as Record<string, unknown>)[field], 2_147_483_647);
      }
    });

    test('dates: a leap second or a day that does not exist is a 400 naming it; real instants at the ends of the range work', async () => {
      const calls = `/v1/tenants/${tenant}/calls`;
      const bad: [string, string][] = [
        ['since=1990-12-31T23:59:60Z', '/since'],
        ['until=2016-12-31T23:59:60%2B00:00', '/until'],
        ['since=2026-13-01T00:00:00Z', '/since'],
        ['since=2026-02-30T00:00:00Z', '/since'],
        ['until=2025-02-29T12:00:00Z', '/until'],
        ['since=2026-04-31T00:00:00Z', '/since'],
        ['since=2026-01-01T24:00:00Z', '/since'],
        ['since=2026-01-01', '/since'],
        ['since=yesterday', '/since'],
        [`since=2026-01-01T00:00:00Z${'0'.repeat(100)}`, '/since'],
      ];
      for (const [q, pointer] of bad) problemOf(await call('GET', `${calls}?${q}`), 400, q, pointer);
      const good = [
        'since=2024-02-29T00:00:00Z',
        'since=0000-01-01T00:00:00Z',
        'since=0001-01-01T00:00:00%2B01:00',
        'until=9999-12-31T23:59:59-23:59',
        'since=2026-01-01t00:00:00z',
        'since=2026-01-01T00:00:00.123456789%2B05:30&until=2026-01-02T00:00:00Z',
      ];
      for (const q of good) {
        const res = await call('GET', `${calls}?${q}`);
        assert.equal(res.status, 200, `${q}: ${res.text}`);
      }
    });

    test('a Call-ID as long as the schema allows is routed (found, or a 404 problem); longer ones are problems, not 414 JSON', async () => {
      const calls = `/v1/tenants/${tenant}/calls`;
      const long = `${'a'.repeat(285)}@host.example`;
      assert.equal(long.length, 298);
      await createCdrRepository(api.db).upsertFromEvent({
        type: 'ended',
        callId: long,
        tenantId: tenant,
        direction: 'internal',
        from: 'sip:alice@acme.example',
        to: 'sip:bob@acme.example',
        startedAt: Date.now() - 1000,
        endedAt: Date.now(),
        disposition: 'no-answer',
      });
      const found = await call('GET', `${calls}/${long}`);
      assert.equal(found.status, 200, found.text);
      assert.equal((JSON.parse(found.text) as { callId: string }).callId, long);
      const encoded = await call('GET', `${calls}/${encodeURIComponent(long).replaceAll('a', '%61')}`);
      assert.equal(
        encoded.status,
        200,
        'the same id fully percent-encoded (3 characters each) is routed too',
      );
      problemOf(await call('GET', `${calls}/${'b'.repeat(300)}`), 404, '300 characters, no such call');
      problemOf(await call('GET', `${calls}/${'b'.repeat(301)}`), 400, '301 characters', '/callId');
      const tooLong = problemOf(await call('GET', `${calls}/${'b'.repeat(5000)}`), 414, 'far too long');
      assert.equal(tooLong.type, '/problems/uri-too-long');
      const longUuid = await call('GET', `/v1/tenants/${'c'.repeat(1000)}`);
      problemOf(longUuid, 414, 'an over-long segment anywhere');
    });

    test('validation errors name the member as a JSON pointer: unknown, missing, nested and wrong-typed members', async () => {
      const t = `/v1/tenants/${tenant}`;
      const typo = problemOf(
        await call('PATCH', `${t}/users/${userId}`, { pasword: 'new-password-1' }),
        400,
        'typo',
        '/pasword',
      );
      assert.deepEqual(typo.errors, [
        { where: 'body', pointer: '/pasword', detail: 'is not a known property' },
      ]);
      assert.equal(typo.detail, 'body/pasword is not a known property');
      problemOf(await call('POST', `${t}/users`, { username: 'carol' }), 400, 'missing', '/password');
      problemOf(
        await call('POST', `${t}/trunks`, { name: 'x', host: 'h', username: 'u' }),
        400,
        'dependency',
        '/password',
      );
      problemOf(
        await call('POST', `${t}/routes`, { name: 'n', pattern: '1', trunkIds: [trunkId, 'nope'] }),
        400,
        'nested',
        '/trunkIds/1',
      );
      problemOf(
        await call('PATCH', `${t}/trunks/${trunkId}`, { port: { $gt: 1 } }),
        400,
        'wrong type',
        '/port',
      );
      problemOf(await call('PATCH', `${t}/trunks/${trunkId}`, { 'a/b~c': 1 }), 400, 'escaped', '/a~1b~0c');
      const query = problemOf(await call('GET', `${t}/trunks?sort=name`), 400, 'unknown query', '/sort');
      assert.equal(query.errors?.[0]?.where, 'querystring');
    });

    test('what Fastify refuses itself is problem+json too: unknown routes, 413, 415, broken JSON, bad URL encoding', async () => {
      problemOf(await call('GET', '/v1/no-such-thing'), 404, 'unknown route under /v1');
      problemOf(await call('GET', '/no-such-thing'), 404, 'unknown route outside /v1');
      problemOf(await call('PUT', `/v1/tenants/${tenant}`, { name: 'x' }), 404, 'unknown method');
      problemOf(await call('POST', '/v1/tenants', 'name=x', 'application/x-www-form-urlencoded'), 415, '415');
      problemOf(await call('POST', '/v1/tenants', '<tenant/>', 'application/xml'), 415, 'XML');
      problemOf(await call('POST', '/v1/tenants', 'x', 'text/plain'), 400, 'text is not an object', '');
      const big = JSON.stringify({ name: 'x'.repeat(70 * 1024), sipDomain: 'big.example' });
      problemOf(await call('POST', '/v1/tenants', big), 413, '413');
      problemOf(await call('POST', '/v1/tenants', '{"name": '), 400, 'JSON syntax error');
      problemOf(await call('POST', '/v1/tenants', ''), 400, 'empty JSON body');
      problemOf(await call('POST', '/v1/tenants', '{"__proto__": {"x": 1}}'), 400, 'prototype poisoning');
      problemOf(await call('GET', `/v1/tenants/${tenant}/calls/%E0%A4%A`), 400, 'broken percent-encoding');
      const deep = `{"name": ${'['.repeat(20_000)}${']'.repeat(20_000)}, "sipDomain": "deep.example"}`;
      problemOf(await call('POST', '/v1/tenants', deep), 400, 'deep JSON', '/name');
      problemOf(await send(base, undefined, 'GET', '/v1/tenants'), 401, 'no key');
      // What Node's HTTP parser refuses before Fastify sees a request.
      const malformed = await rawHttp(base, 'GET /v1/tenants HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n');
      problemOf(malformed, 400, 'malformed HTTP');
      const headers = `GET /v1/tenants HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
      assert.equal(
        problemOf(await rawHttp(base, headers), 431, 'headers').type,
        '/problems/headers-too-large',
      );
    });

    test('never a 500: every operation of the OpenAPI document with hostile path, query and body values', async () => {
      const doc = JSON.parse((await send(base, undefined, 'GET', '/openapi.json')).text) as OpenApi;
      const deep = JSON.parse(`${'['.repeat(2000)}${']'.repeat(2000)}`) as unknown;
      const hostile: unknown[] = [
        NUL,
        `x${NUL}y`,
        '\ud800',
        BIG,
        -BIG,
        1e300,
        2 ** 53 + 1,
        1.5,
        true,
        {},
        [NUL],
        deep,
        'x'.repeat(10_000),
        '1990-12-31T23:59:60Z',
      ];
      const hostileText = [
        '%00',
        'a%00',
        '%ED%A0%80',
        '3000000000',
        '-3000000000',
        '1e400',
        'x'.repeat(2000),
        '1990-12-31T23:59:60Z',
        '2026-02-30T00:00:00Z',
        '[]',
        '%25',
      ];
      const realPath = (path: string) =>
        path.replace('{tenantId}', tenant).replace(/\{[^}]+\}/g, () => randomUUID());
      const validBodies: Record<string, Record<string, unknown>> = {
        'post /v1/tenants': { name: 'Sweep', sipDomain: `sweep-${randomBytes(3).toString('hex')}.example` },
        'post /v1/tenants/{tenantId}/users': { username: 'sweep', password: 'password-1' },
        'post /v1/tenants/{tenantId}/trunks': { name: 'sweep', host: '192.0.2.9' },
        'post /v1/tenants/{tenantId}/numbers': { e164: '+442079460999' },
        'post /v1/tenants/{tenantId}/routes': { name: 'sweep', pattern: '1', trunkIds: [trunkId] },
        'post /v1/api-keys': { name: 'sweep', role: 'viewer' },
      };
      const statuses = new Map<number, number>();
      let sent = 0;
      const check = async (method: string, path: string, body?: unknown) => {
        const res = await call(method.toUpperCase(), path, body);
        sent++;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(res.status < 500, `${method} ${path} ${JSON.stringify(body)?.slice(0, 200)}: ${res.text}`);
        if (res.status >= 400) assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
      };
      for (const [path, operations] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(operations)) {
          const params = op.parameters ?? [];
          // A hostile path parameter never names a fixture, so deletes are swept too.
          for (const p of params.filter((x) => x.in === 'path')) {
            for (const v of hostileText) await check(method, realPath(path.replace(`{${p.name}}`, v)));
          }
          if (method === 'delete') continue;
          for (const p of params.filter((x) => x.in === 'query')) {
            for (const v of hostileText) await check(method, `${realPath(path)}?${p.name}=${v}`);
          }
          const schema = op.requestBody?.content['application/json']?.schema;
          if (!schema) continue;
          const valid = validBodies[`${method} ${path}`] ?? {};
          for (const name of Object.keys(schema.properties ?? {})) {
            for (const v of hostile) await check(method, realPath(path), { ...valid, [name]: v });
          }
          for (const whole of [null, 'text', 42, [valid], deep, { ...valid, extra: NUL }])
            await check(method, realPath(path), whole);
        }
      }
      assert.ok(sent > 500, `the sweep sent ${sent} requests`);
      assert.ok(
        (statuses.get(400) ?? 0) > 300,
        `mostly refused as invalid: ${JSON.stringify([...statuses])}`,
      );
    });
  });
}

interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { in: string; name: string }[];
        requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
      }
    >
  >;
}

/**
 * A TCP proxy to PostgreSQL that can be taken away and brought back on the same port: the database server
 * going down (connections cut, new ones refused) and coming back, as the API sees it.
 */
async function startProxy(
  target: URL,
): Promise<{ url: string; kill: () => Promise<void>; revive: () => Promise<void> }> {
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const url = new URL(target);
  url.host = `127.0.0.1:${proxy.port}`;
  return { url: url.toString(), kill: () => proxy.kill(), revive: () => proxy.revive() };
}

/** The requests of an outage: authentication, a read and a write all meet the database. */
async function assertOutage(base: string, key: string, tenant: string): Promise<void> {
  const requests: [string, string, unknown?][] = [
    ['GET', '/v1/tenants'],
    ['GET', `/v1/tenants/${tenant}/calls?since=2026-01-01T00:00:00Z`],
    ['POST', '/v1/tenants', { name: 'During', sipDomain: 'during.example' }],
  ];
  for (const [method, path, body] of requests) {
    const res = await send(base, key, method, path, body);
    const problem = problemOf(res, 503, `${method} ${path} during the outage`);
    assert.equal(problem.type, '/problems/store-unavailable');
    assert.match(res.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/, 'Retry-After in seconds');
    assert.doesNotMatch(problem.detail, /127\.0\.0\.1|postgres:\/\//, 'nothing of the connection leaks');
  }
}

describe('a database outage under a running API: 503 problem with Retry-After, not 500', () => {
  test('PGlite closed under the API', async () => {
    const pglite = backends.find((b) => b.name === 'PGlite (memory://)')!;
    const opened = await pglite.open();
    const api = await startApiApp(opened.db);
    try {
      const base = await api.listen();
      const key = await api.key(null, 'admin');
      const tenant = await api.tenant('Outage');
      assert.equal((await send(base, key, 'GET', '/v1/tenants')).status, 200);
      await opened.db.close();
      await assertOutage(base, key, tenant);
    } finally {
      await api.close();
    }
  });

  test('PostgreSQL going away (connections cut, then refused) and coming back', async (t) => {
    if (!(await postgresAvailable())) return t.skip('PostgreSQL not reachable');
    const scratch = await createScratchDatabase();
    const proxy = await startProxy(new URL(scratch.url));
    const db = await openDatabase({ url: proxy.url, dataDir: 'unused', poolSize: 2 });
    const api = await startApiApp(db);
    try {
      const base = await api.listen();
      const key = await api.key(null, 'admin');
      const tenant = await api.tenant('Outage');
      assert.equal((await send(base, key, 'GET', '/v1/tenants')).status, 200);
      await proxy.kill();
      await assertOutage(base, key, tenant);
      await proxy.revive();
      const back = await send(base, key, 'GET', '/v1/tenants');
      assert.equal(back.status, 200, `after the outage: ${back.text}`);
    } finally {
      await api.close();
      await db.close();
      await proxy.kill();
      await scratch.drop();
    }
  });

  test('a backend terminated by the server (SQLSTATE 57P01) is "unavailable" at the store boundary', async (t) => {
    if (!(await postgresAvailable())) return t.skip('PostgreSQL not reachable');
    const scratch = await createScratchDatabase();
    const db = await openDatabase({ url: scratch.url, dataDir: 'unused', poolSize: 2 });
    const admin = await openDatabase({ url: scratch.url, dataDir: 'unused', poolSize: 1 });
    try {
      // The failure is kept as it comes (no unhandled rejection while the backend is looked for).
      const failure = db.query('SELECT pg_sleep(30)').then(
        () => undefined,
        (err: unknown) => err,
      );
      let pid: number | undefined;
      for (let i = 0; i < 100 && pid === undefined; i++) {
        const { rows } = await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
            WHERE datname = current_database() AND query = 'SELECT pg_sleep(30)' AND state = 'active'`,
        );
        pid = rows[0]?.pid;
        if (pid === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(pid, 'the sleeping backend was found');
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const err = await failure;
      assert.ok(err instanceof StoreError, String(err));
      assert.equal(err.code, 'STORE_UNAVAILABLE');
      assert.match(err.message, /terminating connection/);
      await assert.rejects(db.query('SELECT 1/0'), (err: unknown) => {
        assert.equal((err as { code?: string }).code, '22012', 'a bad statement is not "unavailable"');
        return true;
      });
    } finally {
      await db.close();
      await admin.close();
      await scratch.drop();
    }
  });
});

describe(
  'the voxgate binary (--target=api on PostgreSQL): long Call-IDs, router errors and an outage',
  {
    skip: !(await postgresAvailable()) && 'PostgreSQL not reachable',
  },
  () => {
    const adminKey = `vxg_hard${randomBytes(2).toString('hex')}_${randomBytes(24).toString('base64url')}`;
    let vx: VoxgateProcess;
    let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
    let proxy: Awaited<ReturnType<typeof startProxy>>;
    let tenant: string;
    const call = (method: string, path: string, body?: unknown) =>
      send(vx.httpUrl, adminKey, method, path, body);

    before(async () => {
      scratch = await createScratchDatabase();
      proxy = await startProxy(new URL(scratch.url));
      vx = await startVoxgate(['--target=api'], {
        VOXGATE_DATABASE_URL: proxy.url,
        VOXGATE_ADMIN_API_KEY: adminKey,
      });
      const created = await call('POST', '/v1/tenants', { name: 'Acme', sipDomain: 'acme.example' });
      assert.equal(created.status, 201, created.text);
      tenant = (JSON.parse(created.text) as { id: string }).id;
    });
    after(async () => {
      await vx?.stop();
      await proxy?.kill();
      await scratch?.drop();
    });

    test('the server routes a 300-character Call-ID (404 problem, not 414) and answers longer paths with problems', async () => {
      const calls = `/v1/tenants/${tenant}/calls`;
      problemOf(await call('GET', `${calls}/${'a'.repeat(300)}`), 404, '300 characters');
      problemOf(
        await call('GET', `${calls}/${encodeURIComponent('@'.repeat(300))}`),
        404,
        '300 encoded characters',
      );
      problemOf(await call('GET', `${calls}/${'a'.repeat(301)}`), 400, '301 characters', '/callId');
      assert.equal(
        problemOf(await call('GET', `${calls}/${'a'.repeat(5000)}`), 414, '5000').type,
        '/problems/uri-too-long',
      );
      problemOf(await call('GET', `${calls}/%E0%A4%A`), 400, 'broken percent-encoding');
      problemOf(await call('GET', '/nothing-here'), 404, 'outside /v1');
      problemOf(
        await call('POST', '/v1/tenants', { name: NUL, sipDomain: 'nul.example' }),
        400,
        'NUL',
        '/name',
      );
      const malformed = await rawHttp(
        vx.httpUrl,
        'GET /v1/tenants HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n',
      );
      problemOf(malformed, 400, 'malformed HTTP');
    });

    test('PostgreSQL going away: 503 problem with Retry-After; back again: 200', async () => {
      await proxy.kill();
      await assertOutage(vx.httpUrl, adminKey, tenant);
      await proxy.revive();
      const back = await call('GET', '/v1/tenants');
      assert.equal(back.status, 200, back.text);
    });
  },
);
