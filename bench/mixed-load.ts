/**
 * The mixed load of issue #22, shared by bench/heap-profile.ts and bench/soak.ts: phones re-registering with
 * MD5 digest, calls from a registered phone (90% answered, G.711 from SIPp's pcap through the media relay,
 * re-INVITE hold and resume, ~2 s; the rest split between a callee busy (486), a caller cancelling while the
 * callee rings (CANCEL, 487) and a number nobody has (404)), the API read once a second. SIPp (Debian package
 * sip-tester) plays every phone, from the scenarios of test/fixtures/sipp.
 *
 * Works against any running target that has the API and SIP: a tenant with a SIP domain of its own and its users
 * are provisioned through the API with an admin key, so a shared staging runs it too. startLocalVoxgate() starts
 * the all-in-one (embedded PGlite and in-memory shared state) for runs without a target.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { lookup } from 'node:dns/promises';
import { freeUdpPort } from '../test/helpers/rtpengine.js';
import { sippMediaPort as mediaPort, sippPort as port } from '../test/helpers/sipp.js';
import { heapLimitArgs } from './memory-budgets.js';
import { runSippStats, stop, type SippStats } from './support.js';

const ROOT = join(import.meta.dirname, '..');
const SIPP = join(ROOT, 'test', 'fixtures', 'sipp');
const PASSWORD = 'load-pass-1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The call classes of the mix and their share of the calls per second. */
export const CALL_MIX = {
  answered: 0.9,
  busy: 0.1 / 3,
  cancelled: 0.1 / 3,
  notFound: 0.1 / 3,
} as const;
export type CallClass = keyof typeof CALL_MIX;

export interface LocalVoxgate {
  readonly process: ChildProcess;
  readonly httpUrl: string;
  /** SIP address, host:port (UDP). */
  readonly sip: string;
  readonly adminKey: string;
  stop(): Promise<void>;
}

/**
 * Starts `voxgate --target=<target>` from dist/ on embedded defaults (PGlite in `dataDir`, memory shared state),
 * every port chosen by the system, the admin key given. Resolves once it logs "voxgate started".
 */
export async function startLocalVoxgate(opts: {
  dataDir: string;
  target?: string;
  nodeArgs?: readonly string[];
  env?: Readonly<Record<string, string>>;
}): Promise<LocalVoxgate> {
  const adminKey = `vxg_load${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;
  const ngPort = await freeUdpPort();
  const rtpMin = 30_000 + 2 * Math.floor(Math.random() * 5_000);
  const vx = spawn(
    process.execPath,
    [
      // As deployed: the target's heap cap (config/memory-budgets.yml), as NODE_OPTIONS and `npm start` give it.
      ...heapLimitArgs(opts.target ?? 'all'),
      ...(opts.nodeArgs ?? []),
      join(ROOT, 'dist/src/bin/voxgate.js'),
      `--target=${opts.target ?? 'all'}`,
    ],
    {
      env: {
        PATH: process.env.PATH,
        VOXGATE_DATA_DIR: opts.dataDir,
        VOXGATE_SIP_HOST: '127.0.0.1',
        VOXGATE_SIP_PORT: '0',
        VOXGATE_SIP_WS_PORT: '0',
        VOXGATE_API_HOST: '127.0.0.1',
        VOXGATE_API_PORT: '0',
        VOXGATE_MEDIA_NG: `127.0.0.1:${ngPort}`,
        VOXGATE_RTP_PORT_MIN: String(rtpMin),
        VOXGATE_RTP_PORT_MAX: String(rtpMin + 1999),
        VOXGATE_ADMIN_API_KEY: adminKey,
        VOXGATE_API_RATE_LIMIT_PER_MINUTE: '0',
        VOXGATE_SIP_AUTH_BAN_THRESHOLD: '10000',
        VOXGATE_SHUTDOWN_GRACE_SECONDS: '1',
        // SIPp's phones do not answer the registrar's OPTIONS keep-alives: with them on, their bindings would go.
        VOXGATE_SIP_KEEPALIVE_SECONDS: '0',
        // The callees register once for the whole run (SIPp's UAS holds their port): longer than an hour.
        VOXGATE_SIP_REGISTER_MAX_EXPIRES: '86400',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const started = await new Promise<Record<string, unknown>[]>((resolveStart, reject) => {
    const lines: Record<string, unknown>[] = [];
    let text = '';
    const timer = setTimeout(() => reject(new Error('voxgate did not start')), 120_000);
    vx.once('exit', (code) => reject(new Error(`voxgate exited with ${code} before it started`)));
    vx.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const parts = text.split('\n');
      text = parts.pop()!;
      for (const line of parts) {
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log line
        }
        if (lines.at(-1)?.msg === 'voxgate started') {
          clearTimeout(timer);
          resolveStart(lines);
        }
      }
    });
  });
  // Keep reading its log: a full pipe would block voxgate.
  vx.stdout!.resume();
  const sipPort = started.find((l) => l.msg === 'SIP listening')?.udp as number;
  const httpUrl = started.find((l) => l.msg === 'HTTP listening')?.address as string;
  return { process: vx, httpUrl, sip: `127.0.0.1:${sipPort}`, adminKey, stop: () => stop(vx) };
}

/** The local address the system would send from to `host` (SIPp's -i and -mi: the target must reach it). */
export async function localAddressFor(host: string): Promise<string> {
  const ip = isIP(host) ? host : (await lookup(host, { family: 4 })).address;
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(9, ip, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

export interface MixedLoadOptions {
  readonly httpUrl: string;
  /** The target's SIP address, host:port (UDP). */
  readonly sip: string;
  readonly adminKey: string;
  readonly users: number;
  readonly cps: number;
  /** Seconds between two REGISTERs of one phone (50 in the issue). */
  readonly registerEvery: number;
  /** A folder for the derived scenarios and the phones' CSV (removed by the caller). */
  readonly work: string;
  /** Where SIPp's error logs go (`sipp-<name>-errors.log`): the run's artifacts. */
  readonly errorsDir: string;
  readonly log: (msg: string) => void;
  /** How long the whole run lasts (every phase), in seconds: the callees' registration must outlast it. */
  readonly runSeconds: number;
}

export interface PhaseResult {
  readonly calls: Record<CallClass, SippStats & { offered: number }>;
  readonly registers: SippStats & { offered: number };
  /** API reads done and failed. */
  readonly apiReads: { ok: number; failed: number };
}

export interface MixedLoad {
  readonly tenantId: string;
  readonly domain: string;
  /** One phase of the load, about `seconds` long; resolves when every SIPp of it has finished its calls. */
  phase(seconds: number): Promise<PhaseResult>;
  /** The tenant's live calls now, read through the API (every gateway replica's, from the shared state). */
  liveCalls(): Promise<number>;
  /** Stops the callees and deletes the tenant (its users and registrations). */
  close(): Promise<void>;
}

/** SIPp's -r is calls per -rp milliseconds: a rate below 1/s is n per 10 s. */
const per10s = (perSecond: number) => Math.max(1, Math.round(perSecond * 10));
export const callsIn = (perSecond: number, seconds: number): number =>
  Math.max(1, Math.round((per10s(perSecond) / 10) * seconds));

/** Replaces `from` once in `text`; a fixture that changed shape fails loudly instead of loading the wrong mix. */
function replaceOnce(text: string, from: string, to: string): string {
  if (text.split(from).length !== 2) throw new Error(`scenario does not contain ${from} exactly once`);
  return text.replace(from, to);
}

/** Writes the scenarios derived from test/fixtures/sipp into `work`. */
function writeScenarios(work: string, users: number): void {
  const register = readFileSync(join(SIPP, 'register-digest.xml'), 'utf8');
  // Many users from a CSV (-inf: SIPp takes each line's credentials from an [authentication …] keyword).
  writeFileSync(
    join(work, 'register-users.xml'),
    register.replaceAll('[service]', '[field0]').replaceAll('[authentication]', '[field1]'),
  );
  // The callees register once for the whole run.
  writeFileSync(join(work, 'register-callee.xml'), register.replaceAll('Expires: 300', 'Expires: 86400'));
  writeFileSync(
    join(work, 'users.csv'),
    [
      'SEQUENTIAL',
      ...Array.from(
        { length: users },
        (_, i) => `phone${i};[authentication username=phone${i} password=${PASSWORD}];`,
      ),
    ].join('\n') + '\n',
  );
  // uac-call.xml takes a 486 or a 200; each class here takes only its own outcome, anything else fails the call.
  const call = readFileSync(join(SIPP, 'uac-call.xml'), 'utf8');
  const busyBranch = '<recv response="486" optional="true" next="busy" />';
  writeFileSync(join(work, 'uac-answered.xml'), replaceOnce(call, busyBranch, ''));
  writeFileSync(
    join(work, 'uac-busy.xml'),
    replaceOnce(call, busyBranch, '<recv response="486" next="busy" />'),
  );
  writeFileSync(
    join(work, 'uac-not-found.xml'),
    replaceOnce(call, busyBranch, '<recv response="404" next="busy" />'),
  );
}

export async function startMixedLoad(opts: MixedLoadOptions): Promise<MixedLoad> {
  const { httpUrl, sip, adminKey, users, cps, registerEvery, work, errorsDir, log } = opts;
  const localIp = await localAddressFor(sip.slice(0, sip.lastIndexOf(':')).replace(/^\[|\]$/g, ''));
  const domain = `load-${randomBytes(4).toString('hex')}.example`;
  writeScenarios(work, users);

  async function api(path: string, method = 'GET', body?: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${httpUrl}/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminKey}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  }

  const tenantId = (await api('/tenants', 'POST', { name: `Load ${domain}`, sipDomain: domain }))
    .id as string;
  const names = [
    'caller',
    'answer',
    'busy',
    'ringer',
    ...Array.from({ length: users }, (_, i) => `phone${i}`),
  ];
  // A few at a time: the API hashes each password.
  for (let i = 0; i < names.length; i += 8)
    await Promise.all(
      names
        .slice(i, i + 8)
        .map((username) => api(`/tenants/${tenantId}/users`, 'POST', { username, password: PASSWORD })),
    );
  log(`provisioned tenant ${domain} with ${names.length} users`);

  const sipp = (args: readonly string[]): ChildProcess =>
    spawn('sipp', [...args, '-nostdin'], { cwd: work, stdio: 'ignore' });
  const auth = (user: string) => ['-au', user, '-ap', PASSWORD, '-key', 'domain', domain];
  const at = ['-i', localIp];

  // The callees: registered once, then SIPp UASs on the registered ports (answer echoes the caller's RTP).
  const callees: ChildProcess[] = [];
  for (const [user, scenario] of [
    ['answer', 'uas-answer.xml'],
    ['busy', 'uas-busy.xml'],
    ['ringer', 'uas-ring-cancel.xml'],
  ] as const) {
    const p = await port();
    const reg = await runSippStats([
      '-sf',
      join(work, 'register-callee.xml'),
      sip,
      ...at,
      '-p',
      String(p),
      '-m',
      '1',
      '-s',
      user,
      ...auth(user),
    ]);
    if (reg.ok !== 1) throw new Error(`${user} did not register`);
    callees.push(
      sipp([
        '-sf',
        join(SIPP, scenario),
        sip,
        ...at,
        '-p',
        String(p),
        '-mi',
        localIp,
        '-mp',
        String(await mediaPort()),
        '-rtp_echo',
        '-m',
        '100000000',
      ]),
    );
  }
  await sleep(300);
  // The callees do not re-register (SIPp's UAS holds their port): the target must grant them the whole run.
  const granted = ((await api(`/tenants/${tenantId}/registrations`)).items as { expiresInSeconds: number }[])
    .map((b) => b.expiresInSeconds)
    .sort((a, b) => a - b)[0];
  if (granted === undefined || granted < opts.runSeconds + 60)
    throw new Error(
      `the target granted the callees ${granted ?? 'no'} s of registration, the run needs ${opts.runSeconds + 60} s: ` +
        'raise its VOXGATE_SIP_REGISTER_MAX_EXPIRES (3600 by default) or shorten the run',
    );

  // The phones re-register from one address in every phase: the same bindings are refreshed, not added.
  const phonesPort = await port();
  /** SIPp's unexpected messages and failures go into the artifacts (`sipp-<name>-errors.log`). */
  const errors = (name: string) => [
    '-trace_err',
    '-error_file',
    join(errorsDir, `sipp-${name}-errors.log`),
    ...(process.env.BENCH_SIPP_TRACE
      ? ['-trace_msg', '-message_file', join(errorsDir, `sipp-${name}-messages.log`)]
      : []),
  ];
  const rated = (perSecond: number) => ['-r', String(per10s(perSecond)), '-rp', '10000'];

  async function phase(seconds: number): Promise<PhaseResult> {
    const scenarios: Record<CallClass, [scenario: string, callee: string]> = {
      answered: [join(work, 'uac-answered.xml'), 'answer'],
      busy: [join(work, 'uac-busy.xml'), 'busy'],
      cancelled: [join(SIPP, 'uac-cancel.xml'), 'ringer'],
      notFound: [join(work, 'uac-not-found.xml'), 'nobody'],
    };
    const calls = async (cls: CallClass) => {
      const perSecond = cps * CALL_MIX[cls];
      const offered = callsIn(perSecond, seconds);
      const [scenario, callee] = scenarios[cls];
      return runSippStats([
        '-sf',
        scenario,
        sip,
        ...at,
        '-p',
        String(await port()),
        '-s',
        callee,
        ...auth('caller'),
        '-key',
        'caller',
        'caller',
        '-mi',
        localIp,
        '-mp',
        String(await mediaPort()),
        ...rated(perSecond),
        '-m',
        String(offered),
        '-l',
        String(Math.ceil(perSecond * 10) + 10),
        '-timeout',
        `${seconds + 60}s`,
        ...errors(`calls-${cls}`),
      ]).then((stats) => ({ ...stats, offered }));
    };
    const registerOffered = callsIn(users / registerEvery, seconds);
    const registers = runSippStats([
      '-sf',
      join(work, 'register-users.xml'),
      sip,
      ...at,
      '-p',
      String(phonesPort),
      '-inf',
      join(work, 'users.csv'),
      '-key',
      'domain',
      domain,
      ...rated(users / registerEvery),
      '-m',
      String(registerOffered),
      '-timeout',
      `${seconds + 60}s`,
      ...errors('registers'),
    ]).then((stats) => ({ ...stats, offered: registerOffered }));
    let reading = true;
    const apiReads = { ok: 0, failed: 0 };
    const reader = (async () => {
      while (reading) {
        await api(`/tenants/${tenantId}/calls/live`).then(
          () => apiReads.ok++,
          () => apiReads.failed++,
        );
        await sleep(1000);
      }
    })();
    const classes = Object.keys(CALL_MIX) as CallClass[];
    const [regs, ...results] = await Promise.all([registers, ...classes.map(calls)]);
    reading = false;
    await reader;
    return {
      calls: Object.fromEntries(classes.map((c, i) => [c, results[i]!])) as PhaseResult['calls'],
      registers: regs,
      apiReads,
    };
  }

  return {
    tenantId,
    domain,
    phase,
    async liveCalls() {
      return ((await api(`/tenants/${tenantId}/calls/live`)).items as unknown[]).length;
    },
    async close() {
      for (const c of callees) await stop(c);
      await api(`/tenants/${tenantId}`, 'DELETE').catch((err: unknown) =>
        log(`tenant ${domain} not deleted: ${String(err)}`),
      );
    },
  };
}
