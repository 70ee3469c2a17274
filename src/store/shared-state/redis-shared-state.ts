import { Cluster, Redis } from 'ioredis';
import { parseRedisUrl, type RedisTarget } from './redis-url.js';
import { createSentinelFailoverGate, type SentinelFailoverGate } from './sentinel-failover-gate.js';
import {
  DEFAULT_STREAM_MAXLEN,
  SharedStateError,
  type Binding,
  type LiveCall,
  type SharedState,
  type StreamEntry,
  type TrunkStatus,
} from './shared-state.js';

type Client = Redis | Cluster;

/**
 * Reconnection delays of a single server or Sentinel master: 100 ms more per attempt, at most 1 s. ioredis 6's
 * default (exponential, up to 5 s) left the client waiting seconds after the sentinels had promoted a replica,
 * and, as the queue is failed every `maxRetriesPerRequest + 1` attempts, held commands up to 20 s while the
 * master was down (measured: docs/deployment.md). With this, a command waits about 4 s at most.
 */
export const reconnectDelayMs = (attempt: number): number => Math.min(attempt * 100, 1000);

const keepHostname = (address: string, callback: (err: null, address: string) => void) =>
  callback(null, address);

/**
 * A connection to `target`. `pipelined`: the commands issued in one turn of the event loop leave in one write
 * (ioredis's auto-pipelining): a REGISTER alone issues several (the bindings, the counters, the event), and one
 * socket write each took 40 % of a gateway's main thread on Redis (docs/performance.md, "Registrations on
 * Redis"). Not for a connection that blocks (XREADGROUP BLOCK): what is pipelined behind a blocking read waits.
 */
function connect(target: RedisTarget, pipelined = false): Client {
  const common = {
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 3,
    retryStrategy: reconnectDelayMs,
    enableAutoPipelining: pipelined,
  } as const;
  switch (target.mode) {
    case 'standalone':
      return new Redis(target.url, common);
    case 'cluster':
      return new Cluster(target.nodes, {
        lazyConnect: true,
        enableAutoPipelining: pipelined,
        // With TLS the seed nodes are connected to by the names given, not the addresses ioredis would look them
        // up to first: the certificate of a TLS cluster (AWS ElastiCache's) names hosts, so an address fails
        // the check ("None of startup nodes is available"; test/store/redis-cluster-tls.test.ts).
        ...(target.tls ? { dnsLookup: keepHostname } : {}),
        redisOptions: {
          username: target.username,
          password: target.password,
          connectTimeout: 5000,
          ...(target.tls ? { tls: {} } : {}),
        },
      });
    case 'sentinel':
      return new Redis({
        ...common,
        sentinels: target.sentinels,
        name: target.masterName,
        username: target.username,
        password: target.password,
      });
  }
}

/** Redis replies of XREADGROUP/XAUTOCLAIM entries: [id, [field, value, ...]] (fields null when trimmed). */
function toEntries(raw: unknown): StreamEntry[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((item) => {
    const [id, flat] = item as [string, string[] | null];
    if (!flat) return [];
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1]);
    return [{ id: String(id), fields }];
  });
}

/** Adds a contact binding and extends the AOR key's life to its latest binding (atomic). */
const PUT_BINDING = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
local want = tonumber(ARGV[3])
if ttl < want then redis.call('PEXPIRE', KEYS[1], want) end
return 1`;

/**
 * Shared state in Redis (standalone, Cluster or Sentinel). Keys carry hash tags (`{…}`) so that every
 * multi-key operation stays in one Cluster slot; values are JSON.
 */
export async function createRedisSharedState(options: {
  url: string;
  keyPrefix?: string;
  streamMaxLen?: number;
}): Promise<SharedState> {
  const target = parseRedisUrl(options.url);
  const prefix = options.keyPrefix ?? 'voxgate:';
  const maxLen = options.streamMaxLen ?? DEFAULT_STREAM_MAXLEN;
  const client = connect(target, true);
  client.on('error', () => undefined); // reconnection is ioredis' job; failed commands reject
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new SharedStateError(
      'SHARED_STATE_UNREACHABLE',
      `cannot connect to Redis at ${target.display}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const blocking = new Map<string, Client>();
  const blockingFor = (consumer: string): Client => {
    let c = blocking.get(consumer);
    if (!c) {
      c = connect(target);
      c.on('error', () => undefined);
      blocking.set(consumer, c);
    }
    return c;
  };

  const k = {
    reg: (aor: string) => `${prefix}reg:{${aor}}`,
    regTenant: (tenant: string) => `${prefix}reg-tenant:{${tenant}}`,
    regGateway: (gateway: string) => `${prefix}reg-gateway:{${gateway}}`,
    call: (id: string) => `${prefix}call:{${id}}`,
    callsTenant: (tenant: string) => `${prefix}calls:{${tenant}}`,
    counter: (key: string) => `${prefix}ctr:{${key}}`,
    stream: (name: string) => `${prefix}stream:{${name}}`,
    trunkStatus: (trunkId: string) => `${prefix}trunk-status:{${trunkId}}`,
  };
  /** The groups made here (`ensureGroup`), by `groupId`. */
  const knownGroups = new Set<string>();
  const groupId = (stream: string, group: string) => `${stream}\0${group}`;
  const ensureGroup = async (stream: string, group: string) => {
    const id = groupId(stream, group);
    if (knownGroups.has(id)) return;
    try {
      await client.call('XGROUP', 'CREATE', k.stream(stream), group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
    }
    knownGroups.add(id);
  };
  /**
   * A command on a group `ensureGroup` made: a NOGROUP reply — the group destroyed under us (`dropGroup` elsewhere,
   * by hand), or lost with its stream when a failover promoted a replica the group's creation had not reached —
   * makes the next call create it again, whichever command met it first.
   */
  const inGroup = async <T>(stream: string, group: string, command: () => Promise<T>): Promise<T> => {
    try {
      return await command();
    } catch (err) {
      if (String((err as Error).message).startsWith('NOGROUP')) knownGroups.delete(groupId(stream, group));
      throw err;
    }
  };
  /** Every AOR with bindings, by SCAN of their keys on each master (a Cluster spreads them over its nodes). */
  const scanAors = async (): Promise<string[]> => {
    const start = `${prefix}reg:{`;
    const pattern = `${start.replace(/[*?[\]\\]/g, '\\$&')}*`;
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    const aors = new Set<string>();
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) if (key.endsWith('}')) aors.add(key.slice(start.length, -1));
      } while (cursor !== '0');
    }
    return [...aors];
  };
  const liveBindings = async (aor: string): Promise<Binding[]> => {
    const all = await client.hgetall(k.reg(aor));
    const now = Date.now();
    const out: Binding[] = [];
    const dead: string[] = [];
    for (const [contact, json] of Object.entries(all)) {
      const b = JSON.parse(json) as Binding;
      if (b.expiresAt > now) out.push(b);
      else dead.push(contact);
    }
    if (dead.length > 0) await client.hdel(k.reg(aor), ...dead);
    return out;
  };

  const state: SharedState = {
    kind: 'redis',
    registrations: {
      async put(aor, binding) {
        const ttl = Math.max(1, binding.expiresAt - Date.now());
        // Issued together: one write and one round trip (auto-pipelining), in this order on the connection. The
        // indexes only name the AOR; an AOR listed there without a binding (the first command failed) lists none.
        await Promise.all([
          client.eval(PUT_BINDING, 1, k.reg(aor), binding.contact, JSON.stringify(binding), ttl),
          client.sadd(k.regTenant(binding.tenantId), aor),
          binding.gateway ? client.sadd(k.regGateway(binding.gateway), aor) : undefined,
        ]);
      },
      async remove(aor, contact) {
        return (await client.hdel(k.reg(aor), contact)) > 0;
      },
      async removeAll(aor) {
        const n = (await liveBindings(aor)).length;
        await client.del(k.reg(aor));
        return n;
      },
      list: liveBindings,
      async listByTenant(tenantId) {
        const aors = await client.smembers(k.regTenant(tenantId));
        const out: { aor: string; binding: Binding }[] = [];
        for (const aor of aors) {
          const bindings = (await liveBindings(aor)).filter((b) => b.tenantId === tenantId);
          if (bindings.length === 0) await client.srem(k.regTenant(tenantId), aor);
          for (const binding of bindings) out.push({ aor, binding });
        }
        return out;
      },
      // The AORs a replica accepted are indexed like a tenant's; an AOR none of whose live bindings is the
      // replica's any more (expired, removed, registered again through another replica) leaves the index.
      // Without an index (bindings written before it existed, or none left) the AORs are found by a SCAN of
      // the bindings — once per start of a replica — and indexed.
      async listByGateway(gateway) {
        const indexed = (await client.exists(k.regGateway(gateway))) === 1;
        const aors = indexed ? await client.smembers(k.regGateway(gateway)) : await scanAors();
        const out: { aor: string; binding: Binding }[] = [];
        for (const aor of aors) {
          const bindings = (await liveBindings(aor)).filter((b) => b.gateway === gateway);
          if (bindings.length === 0 && indexed) await client.srem(k.regGateway(gateway), aor);
          if (bindings.length > 0 && !indexed) await client.sadd(k.regGateway(gateway), aor);
          for (const binding of bindings) out.push({ aor, binding });
        }
        return out;
      },
    },
    calls: {
      // Both commands of put (and the two writes of remove) are issued together: one round trip, not two.
      async put(call) {
        await Promise.all([
          client.set(k.call(call.callId), JSON.stringify(call)),
          client.sadd(k.callsTenant(call.tenantId), call.callId),
        ]);
      },
      async get(callId) {
        const json = await client.get(k.call(callId));
        return json ? (JSON.parse(json) as LiveCall) : undefined;
      },
      async remove(callId) {
        const json = await client.get(k.call(callId));
        if (!json) return false;
        const call = JSON.parse(json) as LiveCall;
        await Promise.all([client.del(k.call(callId)), client.srem(k.callsTenant(call.tenantId), callId)]);
        return true;
      },
      async listByTenant(tenantId) {
        const ids = await client.smembers(k.callsTenant(tenantId));
        const out: LiveCall[] = [];
        for (const id of ids) {
          const json = await client.get(k.call(id));
          if (json) out.push(JSON.parse(json) as LiveCall);
        }
        return out;
      },
      count: (tenantId) => client.scard(k.callsTenant(tenantId)),
    },
    trunkStatus: {
      // One hash per trunk, a field per gateway replica; each value carries its own deadline (hash fields have
      // no TTL before Redis 7.4), and the key expires after the longest one.
      async report(trunkId, status, ttlSec) {
        const value = JSON.stringify({ status, until: Date.now() + ttlSec * 1000 });
        const key = k.trunkStatus(trunkId);
        await client.multi().hset(key, status.gateway, value).expire(key, ttlSec).exec();
      },
      async list(trunkIds) {
        const now = Date.now();
        const out = new Map<string, TrunkStatus[]>();
        // One HGETALL per trunk, sent together: not a pipeline, which a Cluster refuses when the trunks' keys
        // are in different slots (each trunk has its own hash tag).
        const replies = await Promise.all(trunkIds.map((id) => client.hgetall(k.trunkStatus(id))));
        trunkIds.forEach((id, i) => {
          const live = Object.values(replies[i] ?? {})
            .map((v) => JSON.parse(v) as { status: TrunkStatus; until: number })
            .filter((e) => e.until > now)
            .map((e) => e.status);
          if (live.length > 0) out.set(id, live);
        });
        return out;
      },
    },
    counters: {
      async incr(key, by = 1, ttlSec = 86_400) {
        const result = await client.multi().incrby(k.counter(key), by).expire(k.counter(key), ttlSec).exec();
        const [err, value] = result?.[0] ?? [new Error('transaction aborted'), 0];
        if (err) throw err;
        return Number(value);
      },
      async get(key) {
        return Number((await client.get(k.counter(key))) ?? 0);
      },
      hit(key, windowSec) {
        return this.incr(`${key}:${Math.floor(Date.now() / (windowSec * 1000))}`, 1, windowSec * 2);
      },
    },
    events: {
      async publish(stream, fields) {
        const flat = Object.entries(fields).flat();
        return String(
          await client.call('XADD', k.stream(stream), 'MAXLEN', '~', String(maxLen), '*', ...flat),
        );
      },
      async consume(stream, group, consumer, { count = 100, blockMs = 0 } = {}) {
        await ensureGroup(stream, group);
        const args = ['GROUP', group, consumer, 'COUNT', String(count)];
        if (blockMs > 0) args.push('BLOCK', String(blockMs));
        const conn = blockMs > 0 ? blockingFor(consumer) : client;
        const reply = await inGroup(
          stream,
          group,
          async () =>
            (await conn.call('XREADGROUP', ...args, 'STREAMS', k.stream(stream), '>')) as unknown[] | null,
        );
        if (!reply || reply.length === 0) return [];
        // One stream asked for: ioredis 6 answers [key, entries]; the raw RESP2 shape is [[key, entries]].
        return toEntries(typeof reply[0] === 'string' ? reply[1] : (reply[0] as unknown[])[1]);
      },
      async ack(stream, group, ids) {
        if (ids.length === 0) return 0;
        return Number(await client.call('XACK', k.stream(stream), group, ...ids));
      },
      async claimStale(stream, group, consumer, minIdleMs, count = 100) {
        await ensureGroup(stream, group);
        const reply = await inGroup(
          stream,
          group,
          async () =>
            (await client.call(
              'XAUTOCLAIM',
              k.stream(stream),
              group,
              consumer,
              String(minIdleMs),
              '0',
              'COUNT',
              String(count),
            )) as [string, unknown],
        );
        return toEntries(reply[1]);
      },
      async dropGroup(stream, group) {
        knownGroups.delete(groupId(stream, group));
        return Number(await client.call('XGROUP', 'DESTROY', k.stream(stream), group)) === 1;
      },
    },
    async ping() {
      await client.ping();
    },
    async close() {
      for (const c of blocking.values()) c.disconnect();
      await client.quit().catch(() => client.disconnect());
    },
  };
  if (target.mode !== 'sentinel' || !(client instanceof Redis)) return state;
  const gate = createSentinelFailoverGate({
    sentinels: target.sentinels,
    masterName: target.masterName,
    main: client,
    others: () => [...blocking.values()].filter((c) => c instanceof Redis),
    retryStrategy: reconnectDelayMs,
  });
  return {
    ...state,
    registrations: heldDuringFailovers(state.registrations, gate),
    calls: heldDuringFailovers(state.calls, gate),
    counters: heldDuringFailovers(state.counters, gate),
    events: heldDuringFailovers(state.events, gate),
    trunkStatus: heldDuringFailovers(state.trunkStatus, gate),
    ping: heldDuringFailovers({ ping: state.ping }, gate).ping,
    async close() {
      gate.close();
      await state.close();
    },
  };
}

/** The same operations, each waiting first for the gate (see sentinel-failover-gate.ts). */
function heldDuringFailovers<T extends object>(operations: T, gate: SentinelFailoverGate): T {
  const held = { ...operations };
  for (const [name, operation] of Object.entries(operations)) {
    if (typeof operation !== 'function') continue;
    const run = operation as (...args: unknown[]) => unknown;
    Object.assign(held, {
      [name]: async (...args: unknown[]) => {
        await gate.passage();
        return run.apply(held, args);
      },
    });
  }
  return held;
}
