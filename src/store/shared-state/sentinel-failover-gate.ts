import { channel } from 'node:diagnostics_channel';
import { isIP } from 'node:net';
import { Redis } from 'ioredis';

/**
 * Holds a Sentinel client's operations while the sentinels fail the master over, and moves the client to the new
 * master when they announce it.
 *
 * Redis Sentinel does not fence the master it replaces. After `SENTINEL FAILOVER` (or a failover after the master
 * was unreachable for a while and came back) the old master stays a writable master until Sentinel turns it into
 * a replica, about 10 s later (its INFO period): a client still connected to it is answered OK, and everything it
 * wrote since the replica's promotion is discarded when the old master resynchronises. Measured with redis-server
 * 7.0 and ioredis 6, which stays on its connection until Sentinel's `CLIENT KILL`: 301 of 391 acknowledged writes
 * lost in a graceful failover (test/store/shared-state.topologies.test.ts).
 *
 * The sentinel that leads a failover announces each step on its Pub/Sub (the "Sentinel API" of the Redis
 * documentation): `+try-failover` when it starts, `+selected-slave` and `+failover-state-send-slaveof-noone`
 * about 100 ms before it sends `REPLICAOF NO ONE` to the replica, `+switch-master <name> <old ip> <old port>
 * <new ip> <new port>` when the new master is the one it gives out, `-failover-abort-…` when it gives up. So:
 *
 * - from `+try-failover` for our master, operations wait (no write reaches the old master after the replica
 *   stopped copying it);
 * - on `+switch-master` for our master, every connection is closed and opened again (ioredis asks the sentinels
 *   for the master on each connection) until it is open to the master announced, and the operations go on when
 *   the main one is;
 * - on `-failover-abort-…` from the sentinel that started it, they go on where they were (not on `+failover-end`:
 *   the leader announces it just before `+switch-master`, and operations let go then would reach the old master);
 * - they never wait more than `maxHoldMs` (a sentinel can die in the middle of a failover): then they go on
 *   wherever the client is, as before this gate.
 *
 * Measured here (redis-server 7.0, loopback): `+try-failover` to `+switch-master` in 1.2 s, during which the
 * operations waited; the replica was promoted 180 ms after `+try-failover`.
 */
export interface SentinelFailoverGate {
  /** Resolves at once when no failover is under way; otherwise when it ends or `maxHoldMs` after it began. */
  passage(): Promise<void> | undefined;
  /** Resolves when the announcements of at least one sentinel are listened to. */
  listening(): Promise<void>;
  close(): void;
}

/**
 * What the gate does, for the log (`SentinelFailoverEvent`): operations held from a sentinel's announcement, let
 * go at the switch (with the new master), at the end the sentinel announced, or after `maxHoldMs`.
 */
export const sentinelFailoverChannel = channel('voxgate:store:sentinel-failover');

export type SentinelFailoverEvent =
  | { readonly kind: 'held'; readonly masterName: string; readonly sentinel: string }
  | {
      readonly kind: 'released';
      readonly masterName: string;
      /** `switched`: on the new master; `ended`: the failover was given up; `timeout`: after maxHoldMs. */
      readonly reason: 'switched' | 'ended' | 'timeout' | 'closed';
      readonly heldMs: number;
      readonly newMaster?: string;
    };

const publish = (event: SentinelFailoverEvent) => {
  if (sentinelFailoverChannel.hasSubscribers) sentinelFailoverChannel.publish(event);
};

/** The channels a sentinel announces a failover's start and end on (glob patterns, for PSUBSCRIBE). */
const CHANNELS = ['+try-failover', '-failover-abort-*', '+switch-master'];

export function createSentinelFailoverGate(options: {
  sentinels: { host: string; port: number }[];
  masterName: string;
  /** The connection the operations wait for: they go on when it is open to the new master. */
  main: Redis;
  /** Other connections to move to the new master (the consumers' blocking reads). */
  others: () => Iterable<Redis>;
  maxHoldMs?: number;
  retryStrategy: (attempt: number) => number;
}): SentinelFailoverGate {
  const maxHoldMs = options.maxHoldMs ?? 5000;
  /** Failovers under way, by the sentinel that announced them: when each stops holding operations. */
  const underWay = new Map<string, number>();
  /** The new master of the last `+switch-master`, `ip:port`. */
  let switchedTo: string | undefined;
  let held: { promise: Promise<void>; release: () => void; timer: NodeJS.Timeout; since: number } | undefined;
  const { masterName } = options;

  const release = (reason: 'switched' | 'ended' | 'timeout' | 'closed') => {
    if (!held) return;
    clearTimeout(held.timer);
    held.release();
    const heldMs = Date.now() - held.since;
    held = undefined;
    publish({
      kind: 'released',
      masterName,
      reason,
      heldMs,
      ...(reason === 'switched' && switchedTo ? { newMaster: switchedTo } : {}),
    });
  };
  const hold = (sentinel: string) => {
    if (held) return;
    let resolve = () => undefined as void;
    const promise = new Promise<void>((r) => (resolve = r));
    held = {
      promise,
      release: resolve,
      timer: setTimeout(() => release('timeout'), maxHoldMs),
      since: Date.now(),
    };
    held.timer.unref();
    publish({ kind: 'held', masterName, sentinel });
  };
  const settle = () => {
    const now = Date.now();
    for (const [who, until] of underWay) if (until <= now) underWay.delete(who);
    if (underWay.size === 0) release('ended');
  };

  /**
   * Closes `c` and opens it again until it is open to `host:port`: ioredis asks a sentinel for the master on each
   * connection, and a sentinel that has not heard of the switch yet names the old one (still a master then).
   * Ends when it is there, when another switch comes, when the gate is closed, or `maxHoldMs` after.
   */
  const moveTo = (c: Redis, host: string, port: number) => {
    const started = Date.now();
    const attempt = () => {
      if (closed || switchedTo !== `${host}:${port}`) return;
      if (c.status === 'ready' && isConnectedTo(c, host, port)) {
        if (c === options.main) release('switched');
        return;
      }
      if (Date.now() - started > maxHoldMs) return;
      c.once('ready', attempt);
      c.disconnect(true);
    };
    attempt();
  };
  let closed = false;

  const subscribers = options.sentinels.map(({ host, port }) => {
    const who = `${host}:${port}`;
    const sub = new Redis({
      host,
      port,
      // As ioredis asks the sentinels for the master: without the master's credentials.
      lazyConnect: true,
      connectTimeout: 5000,
      retryStrategy: options.retryStrategy,
      maxRetriesPerRequest: null,
    });
    sub.on('error', () => undefined); // a sentinel down is retried; the others still announce
    sub.on('pmessage', (_pattern: string, channel: string, message: string) => {
      const words = message.split(' ');
      if (channel === '+switch-master') {
        // `<master name> <old ip> <old port> <new ip> <new port>`
        if (words[0] !== options.masterName) return;
        // Each sentinel announces the switch: the connections move once per new master.
        const to = `${words[3]}:${words[4]}`;
        if (to === switchedTo) return;
        switchedTo = to;
        underWay.clear();
        hold(who);
        for (const c of [options.main, ...options.others()]) moveTo(c, words[3] ?? '', Number(words[4]));
        return;
      }
      // `master <master name> <ip> <port>`
      if (words[0] !== 'master' || words[1] !== options.masterName) return;
      if (channel === '+try-failover') {
        underWay.set(who, Date.now() + maxHoldMs);
        hold(who);
      } else {
        underWay.delete(who);
        settle();
      }
    });
    const subscribed = sub.psubscribe(...CHANNELS);
    subscribed.catch(() => undefined); // closed before it subscribed: listening() answers for the others
    return { sub, subscribed };
  });

  return {
    passage: () => held?.promise,
    listening: () => Promise.any(subscribers.map((s) => s.subscribed)).then(() => undefined),
    close() {
      closed = true;
      release('closed');
      for (const s of subscribers) s.sub.disconnect();
    },
  };
}

/** Whether `c`'s socket is connected to `host:port` (the address as a sentinel gives it: an IP, or a name). */
function isConnectedTo(c: Redis, host: string, port: number): boolean {
  const socket = c.stream;
  if (socket?.remotePort !== port) return false;
  // A sentinel announcing names (`resolve-hostnames yes`): the port is all that can be compared here.
  if (isIP(host) === 0) return true;
  return socket.remoteAddress?.replace(/^::ffff:/, '') === host;
}
