import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ACCOUNTS, DOMAIN, account } from './accounts.js';
import { writeTlsFiles } from './tls-files.js';
import type { SipServer } from './types.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const ADMIN_KEY = 'vxg_interop_interopAdminKeyOnlyForTheSuite0';
/** voxgate's default port for SIP over a plain WebSocket (VOXGATE_SIP_WS_PORT, not set here). */
const WS_DEFAULT_PORT = 5066;

/**
 * voxgate as a new user runs it: the built binary (`npm start`'s command), target `all`, every setting at its
 * default — SIP 5060 UDP/TCP, 5061 TLS, 5066 WebSocket, API 8080, the built-in relay with RTP on 30000-40000 —
 * except what a deployment must give: the data folder, the admin key (so the suite can provision) and the TLS
 * certificate.
 * Nothing is set for any client. Provisions the suite's tenant and accounts through the API.
 */
export async function startVoxgate(options: { env?: Record<string, string> } = {}): Promise<SipServer> {
  const work = await mkdtemp(join(tmpdir(), 'interop-voxgate-'));
  const tls = writeTlsFiles(join(work, 'tls'), DOMAIN);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VOXGATE_')) env[k] = v;
  Object.assign(env, {
    VOXGATE_DATA_DIR: join(work, 'data'),
    VOXGATE_ADMIN_API_KEY: ADMIN_KEY,
    VOXGATE_SIP_TLS_CERT: tls.certFile,
    VOXGATE_SIP_TLS_KEY: tls.keyFile,
    ...options.env,
  });
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/bin/voxgate.js')], {
    cwd: work,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  const keep = (line: string) => {
    log.push(line);
    if (log.length > 5000) log.splice(0, log.length - 5000);
  };
  createInterface({ input: child.stderr }).on('line', keep);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = new Promise<Record<string, unknown>[]>((resolve, reject) => {
    const lines: Record<string, unknown>[] = [];
    const timer = setTimeout(() => reject(new Error(`voxgate did not start:\n${log.join('\n')}`)), 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        return;
      }
      if (lines.at(-1)?.msg === 'voxgate started') {
        clearTimeout(timer);
        resolve(lines);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`voxgate exited with ${code} before it started:\n${log.join('\n')}`));
    });
  });
  const lines = await started;
  const sip = lines.find((l) => l.msg === 'SIP listening') ?? {};
  const http = lines.find((l) => l.msg === 'HTTP listening')?.address as string;
  const version = (lines.find((l) => l.msg === 'voxgate started')?.version as string | undefined) ?? '';

  const api = async (method: string, path: string, body: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${http}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const userIds = new Map<string, string>();
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(force);
    await rm(work, { recursive: true, force: true });
  };
  try {
    const tenant = await api('POST', '/v1/tenants', { name: 'Interop', sipDomain: DOMAIN });
    for (const a of Object.values(ACCOUNTS)) {
      const user = await api('POST', `/v1/tenants/${String(tenant.id)}/users`, {
        username: a.username,
        password: a.password,
      });
      userIds.set(a.username, `/v1/tenants/${String(tenant.id)}/users/${String(user.id)}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    name: 'voxgate',
    description: `voxgate ${version}`.trim(),
    domain: DOMAIN,
    address: '127.0.0.1',
    ports: {
      udp: sip.udp as number,
      tcp: sip.tcp as number,
      tls: sip.tls as number,
      // SIP over WebSocket listens on 5066 by default; the log names the port when it says so.
      ws: typeof sip.ws === 'number' ? sip.ws : WS_DEFAULT_PORT,
    },
    caFile: tls.certFile,
    rtpPorts: [30000, 40000],
    account,
    async updateAccount(name, settings) {
      const path = userIds.get(account(name).username);
      if (!path) throw new Error(`interop: voxgate has no user ${name}`);
      await api('PATCH', path, settings);
    },
    async metrics() {
      const res = await fetch(`${http}/metrics`);
      if (!res.ok) throw new Error(`voxgate /metrics: ${res.status}`);
      return res.text();
    },
    logTail: (n = 80) => log.slice(-n).join('\n'),
    stop,
  };
}
