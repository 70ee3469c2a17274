/**
 * `npm run bench:api`: the provisioning API under autocannon — a list read (a page of 50 trunks) and a create
 * (a number per request, with its audit entry in the same transaction) — on PGlite (embedded) and on
 * PostgreSQL, each against one `voxgate --target=api` process with the rate limit off. Prints req/s and
 * p50/p99 latency as a Markdown table for docs/performance.md.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { fmt, stop, usage, waitForOutput } from './support.js';

const DURATION = Number(process.env.VOXGATE_BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.VOXGATE_BENCH_CONNECTIONS ?? 10);
const adminKey = `vxg_bench${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;
const auth = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };

interface Row {
  store: string;
  scenario: string;
  reqPerSec: number;
  p50: number;
  p99: number;
  total: number;
  failed: number;
  cpuMsPerReq: number;
}

async function measure(store: string, env: Record<string, string>): Promise<Row[]> {
  const vx = spawn(process.execPath, ['dist/src/bin/voxgate.js', '--target=api'], {
    env: {
      PATH: process.env.PATH ?? '',
      VOXGATE_API_HOST: '127.0.0.1',
      VOXGATE_API_PORT: '0',
      VOXGATE_ADMIN_API_KEY: adminKey,
      VOXGATE_API_RATE_LIMIT_PER_MINUTE: '0',
      VOXGATE_LOG_LEVEL: 'info',
      VOXGATE_SHUTDOWN_GRACE_SECONDS: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await waitForOutput(vx, /"address":"http:\/\/127\.0\.0\.1:(\d+)"/, 'stdout');
    const url = `http://127.0.0.1:${port}`;
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
      if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { id: string };
    };
    const tenant = await post('/v1/tenants', { name: 'Bench', sipDomain: 'bench.example' });
    for (let i = 0; i < 60; i++) {
      await post(`/v1/tenants/${tenant.id}/trunks`, {
        name: `carrier-${String(i).padStart(3, '0')}`,
        host: `192.0.2.${i + 1}`,
        username: 'bench',
        password: 'bench-secret',
        inboundCidrs: [`198.51.${i}.0/24`],
      });
    }
    let n = 0;
    const scenarios = [
      {
        scenario: 'list: GET /v1/tenants/{id}/trunks (page of 50)',
        requests: [{ method: 'GET', path: `/v1/tenants/${tenant.id}/trunks?limit=50` }],
      },
      {
        scenario: 'create: POST /v1/tenants/{id}/numbers (+ audit entry)',
        requests: [
          {
            method: 'POST',
            path: `/v1/tenants/${tenant.id}/numbers`,
            setupRequest: (req: { body?: string }) => ({
              ...req,
              body: JSON.stringify({ e164: `+1555${String(++n).padStart(8, '0')}` }),
            }),
          },
        ],
      },
    ];
    const rows: Row[] = [];
    for (const s of scenarios) {
      const before = usage(vx.pid!).cpuMs;
      const result = await autocannon({
        url,
        connections: CONNECTIONS,
        duration: DURATION,
        headers: auth,
        requests: s.requests,
      });
      const cpu = usage(vx.pid!).cpuMs - before;
      rows.push({
        store,
        scenario: s.scenario,
        reqPerSec: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        total: result['2xx'],
        failed: result.non2xx + result.errors + result.timeouts,
        cpuMsPerReq: cpu / Math.max(1, result['2xx']),
      });
    }
    return rows;
  } finally {
    await stop(vx);
  }
}

const rows: Row[] = [];
const dataDir = mkdtempSync(join(tmpdir(), 'voxgate-bench-api-'));
try {
  rows.push(...(await measure('PGlite', { VOXGATE_DATA_DIR: dataDir })));
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

const base = process.env.VOXGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `voxgate_bench_api_${process.pid}`;
const admin = new pg.Client({ connectionString: base });
try {
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  try {
    const url = new URL(base);
    url.pathname = `/${dbName}`;
    rows.push(...(await measure('PostgreSQL', { VOXGATE_DATABASE_URL: url.toString() })));
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  }
} catch (err) {
  console.error(`PostgreSQL run skipped: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  await admin.end().catch(() => undefined);
}

console.log(`\n${CONNECTIONS} connections, ${DURATION} s per scenario\n`);
console.log('| store | scenario | req/s | p50 ms | p99 ms | 2xx | failed | server CPU ms/req |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.store} | ${r.scenario} | ${fmt(r.reqPerSec, 0)} | ${r.p50} | ${r.p99} | ${r.total} | ${r.failed} | ${fmt(r.cpuMsPerReq, 2)} |`,
  );
}
