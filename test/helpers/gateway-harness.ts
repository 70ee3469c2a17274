import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  createMediaAnchor,
  createStoreRecordingSink,
  createStoreRoutingDirectory,
  followCallCommands,
  startGateway as startSipGateway,
  type Gateway,
  type GatewayOptions,
  type MediaAnchor,
} from '../../src/gateway/index.js';
import { createNgClient, type NgClient } from '../../src/media/index.js';
import { computeHa1, type DigestAlgorithm, type TimerSettings } from '../../src/sip/index.js';
import {
  CALL_EVENTS_STREAM,
  createSipUserRepository,
  createTenantRepository,
  decodeCallEvent,
  migrate,
  type CallEvent,
  openDatabase,
  type Database,
} from '../../src/store/index.js';
import { createMemorySharedState, type SharedState } from '../../src/store/shared-state/index.js';
import assert from 'node:assert/strict';
import { MIGRATIONS_DIR } from './store-backends.js';
import { until } from './rtp-party.js';
import { SipPhone } from './sip-phone.js';

export interface GatewayHarness {
  port: number;
  state: SharedState;
  db: Database;
  tenantId: string;
  gateway: Gateway;
  media: MediaAnchor;
  draining: { value: boolean };
  warnings: { detail: Record<string, unknown>; message: string }[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  banThreshold?: number;
  digestAlgorithms?: readonly DigestAlgorithm[];
  /** ng relays to anchor media on (host:port); none = media not anchored. */
  relays?: readonly { host: string; port: number }[];
  timers?: TimerSettings;
  ringTimeoutMs?: number;
  maxDurationMs?: number;
  mediaTimeoutMs?: number;
  keepaliveMs?: number;
  trunkCheckMs?: number;
  trunkRegistration?: { expiresSec: number; syncMs?: number; retryMs?: number };
  /** A SIP WebSocket listener (RFC 7118); port 0 = any free port. */
  ws?: { port: number };
  tenantLimits?: { maxConcurrentCalls?: number; maxCallsPerSecond?: number };
  /** Shared state to use (the caller closes it); default: a new in-memory one, closed with the harness. */
  state?: SharedState;
  /** List the recordings the relay stores (the store and `recording.ready`), as the sip-gateway module does. */
  recordings?: boolean;
  /** Limits of the TCP, TLS and WebSocket listeners (default: the SIP stack's). */
  streams?: GatewayOptions['streams'];
  /** Whether new requests outside a dialog are taken (default: always). */
  admitting?: () => boolean;
}

/** The users every harness tenant has: name → password. */
export const HARNESS_USERS = { alice: 's3cret', bob: 'b0bpass', carol: 'c4rol' } as const;

/**
 * The gateway as the sip-gateway module builds it — listeners, transaction layer, router, registrar, B2BUA —
 * over real UDP/TCP sockets, a real (embedded) PostgreSQL with tenant acme.example and the users of
 * HARNESS_USERS, and in-memory shared state.
 */
export async function startGateway(options: HarnessOptions = {}): Promise<GatewayHarness> {
  const db = await openDatabase({
    dataDir: 'memory://',
    pgliteTemplate: join(import.meta.dirname, '..', '..', 'dist', 'pglite-template.tar.gz'),
  });
  await migrate(db, MIGRATIONS_DIR);
  const tenant = await createTenantRepository(db).create({
    name: 'Acme',
    sipDomain: 'acme.example',
    ...(options.tenantLimits ?? {}),
  });
  for (const [username, password] of Object.entries(HARNESS_USERS)) {
    await createSipUserRepository(db).create({
      tenantId: tenant.id,
      username,
      ha1Md5: computeHa1('MD5', username, 'acme.example', password),
      ha1Sha256: computeHa1('SHA-256', username, 'acme.example', password),
    });
  }
  const state = options.state ?? createMemorySharedState();
  const draining = { value: false };
  const warnings: GatewayHarness['warnings'] = [];
  const clients: NgClient[] = (options.relays ?? []).map((r) =>
    createNgClient({ ...r, timeoutMs: 500, retries: 1 }),
  );
  const media = createMediaAnchor({ relays: clients.map((client, i) => ({ name: `relay-${i}`, client })) });
  // A gateway that fails to start must not leave the database, shared state and ng clients open: the test
  // process would then never exit and time out instead of reporting the failure.
  const release = async () => {
    await Promise.all(clients.map((c) => c.close()));
    if (!options.state) await state.close();
    await db.close();
  };
  const gateway = await startSipGateway({
    host: '127.0.0.1',
    port: 0,
    users: createSipUserRepository(db),
    tenants: createTenantRepository(db),
    state,
    media,
    ...(options.recordings ? { recordings: createStoreRecordingSink({ db, events: state.events }) } : {}),
    routing: createStoreRoutingDirectory(db),
    ...(options.keepaliveMs ? { keepaliveMs: options.keepaliveMs } : {}),
    ...(options.trunkCheckMs ? { trunkCheckMs: options.trunkCheckMs } : {}),
    ...(options.trunkRegistration ? { trunkRegistration: options.trunkRegistration } : {}),
    ...(options.ws ? { ws: options.ws } : {}),
    ...(options.streams ? { streams: options.streams } : {}),
    ...(options.admitting ? { admitting: options.admitting } : {}),
    registrar: {
      minExpires: 60,
      maxExpires: 3600,
      defaultExpires: 3600,
      banThreshold: options.banThreshold ?? 10,
      banSeconds: 300,
      nonceSecret: randomBytes(32),
      digestAlgorithms: options.digestAlgorithms ?? ['MD5'],
    },
    calls: {
      ringTimeoutMs: options.ringTimeoutMs ?? 30_000,
      maxDurationMs: options.maxDurationMs ?? 3_600_000,
      mediaTimeoutMs: options.mediaTimeoutMs ?? 0,
    },
    ...(options.timers ? { timers: options.timers } : {}),
    gatewayId: 'test-gateway',
    isDraining: () => draining.value,
    warn: (detail, message) => warnings.push({ detail, message }),
    error: (detail, message) => warnings.push({ detail, message }),
  }).catch(async (err: unknown) => {
    await release();
    throw err;
  });
  return {
    port: gateway.endpoint.address().udp!.port,
    state,
    db,
    tenantId: tenant.id,
    gateway,
    media,
    draining,
    warnings,
    async close() {
      await gateway.close();
      await release();
    },
  };
}

/**
 * Registered test phones for a describe block: `phone(user)` opens one and registers it with its password;
 * `track(p)` adds one opened otherwise; `reset()` (afterEach) closes them and removes every registration of the harness tenant.
 */
export function phoneBook(harness: () => GatewayHarness): {
  phone(user: keyof typeof HARNESS_USERS): Promise<SipPhone>;
  /** Closes `p` with the others at reset (a phone opened some other way). */
  track(p: SipPhone): SipPhone;
  reset(): Promise<void>;
} {
  const phones: SipPhone[] = [];
  return {
    async phone(user) {
      const p = await SipPhone.open(user, HARNESS_USERS[user], harness().port);
      phones.push(p);
      assert.equal((await p.register()).status, 200);
      return p;
    },
    track(p) {
      phones.push(p);
      return p;
    },
    async reset() {
      for (const p of phones.splice(0)) p.close();
      const gw = harness();
      for (const { aor } of await gw.state.registrations.listByTenant(gw.tenantId))
        await gw.state.registrations.removeAll(aor);
    },
  };
}

/**
 * The next `ended` call event that `match` accepts, read through consumer group `group` (a group reads the
 * stream once from its start: reuse one to take calls in turn, use a new one to search them all).
 */
export async function endedEvent(
  gw: GatewayHarness,
  group: string,
  match: (e: CallEvent) => boolean = () => true,
): Promise<CallEvent> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    for (const e of await gw.state.events.consume(CALL_EVENTS_STREAM, group, 'c', {
      count: 100,
      blockMs: 200,
    })) {
      const event = decodeCallEvent(e.fields);
      if (event.type === 'ended' && match(event)) return event;
    }
  }
  throw new Error('no ended call event');
}

/**
 * The follower of the API's call command stream (hangup, transfer) for the harness gateway, as the sip-gateway
 * module starts it; an error of the follower fails the test.
 */
export function followHarnessCallCommands(gw: GatewayHarness): { stop(): Promise<void> } {
  return followCallCommands({
    events: gw.state.events,
    b2bua: gw.gateway.b2bua,
    gatewayId: 'test-gateway',
    group: 'gateway-calls:test-gateway',
    onError: (err) => assert.fail(String(err)),
    blockMs: 50,
  });
}

/**
 * The harness's call events for a describe block, read as they come through consumer group `group` from
 * `start()` (before) to `stop()` (after): `seen` in order, and `event(match, what)`, the first that `match`
 * accepts within 5 s (else an error naming `what` and the events seen).
 */
export function callEventLog(
  harness: () => GatewayHarness,
  group: string,
): {
  readonly seen: readonly CallEvent[];
  event(match: (e: CallEvent) => boolean, what: string): Promise<CallEvent>;
  start(): void;
  stop(): Promise<void>;
} {
  const seen: CallEvent[] = [];
  let reading = true;
  let reader: Promise<void> | undefined;
  return {
    seen,
    async event(match, what) {
      await until(() => seen.some(match), 5000).catch(() => {
        throw new Error(`no ${what} event; seen ${seen.map((e) => `${e.type}:${e.callId}`).join(', ')}`);
      });
      return seen.find(match)!;
    },
    start() {
      reader = (async () => {
        while (reading) {
          for (const e of await harness().state.events.consume(CALL_EVENTS_STREAM, group, 'c', {
            count: 100,
            blockMs: 50,
          }))
            seen.push(decodeCallEvent(e.fields));
        }
      })();
    },
    async stop() {
      reading = false;
      await reader;
    },
  };
}
