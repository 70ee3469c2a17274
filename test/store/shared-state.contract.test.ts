import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  createMemorySharedState,
  createRedisSharedState,
  createSharedState,
  parseRedisUrl,
  SharedStateError,
} from '../../src/store/shared-state/index.js';
import {
  bindingsBeforeIndexContract,
  redisImplementation,
  sharedStateContract,
} from '../helpers/shared-state-contract.js';
import { REDIS_URL, redisUp } from '../helpers/redis.js';

// The contract itself is in test/helpers/shared-state-contract.ts; Redis Cluster and Sentinel run it in
// test/store/shared-state.topologies.test.ts.
const redisSkip = (await redisUp()) ? false : `Redis not reachable at ${REDIS_URL}`;

sharedStateContract({
  name: 'memory',
  skip: false,
  make: async () => {
    const state = createMemorySharedState({ streamMaxLen: 50 });
    return { state, cleanup: () => state.close() };
  },
});
sharedStateContract(redisImplementation('Redis', REDIS_URL, redisSkip));
bindingsBeforeIndexContract('Redis', REDIS_URL, redisSkip);

describe('shared state on Redis: a consumer group lost under the reader', { skip: redisSkip }, () => {
  test('a claim of stale entries that meets NOGROUP lets the next one create the group again', async () => {
    // The group gone without this client's dropGroup: destroyed by another client here, as a failover loses it
    // when the promoted replica had not received its creation. The worker's loop claims stale entries first.
    const prefix = `voxgate-test-${randomBytes(4).toString('hex')}:`;
    const state = await createRedisSharedState({ url: REDIS_URL, keyPrefix: prefix });
    const admin = new Redis(REDIS_URL);
    try {
      await state.events.publish('call-events', { n: '1' });
      assert.equal((await state.events.consume('call-events', 'cdr', 'worker')).length, 1);
      const [key] = await admin.keys(`${prefix}*`);
      assert.ok(key);
      assert.equal(await admin.call('XGROUP', 'DESTROY', key, 'cdr'), 1);
      await assert.rejects(state.events.claimStale('call-events', 'cdr', 'worker', 0), /NOGROUP/);
      assert.deepEqual(await state.events.claimStale('call-events', 'cdr', 'worker', 0), []);
      assert.deepEqual(
        (await state.events.consume('call-events', 'cdr', 'worker')).map((e) => e.fields.n),
        ['1'],
        'the group made again from the start of the stream',
      );
    } finally {
      await state.close();
      for (const key of await admin.keys(`${prefix}*`)) await admin.del(key);
      admin.disconnect();
    }
  });
});

describe('shared state: selection and Redis URLs', () => {
  test('no URL = memory', async () => {
    const s = await createSharedState({});
    assert.equal(s.kind, 'memory');
    await s.close();
    await assert.rejects(s.ping(), SharedStateError);
  });

  test('URL forms: standalone, cluster, sentinel', () => {
    assert.equal(parseRedisUrl('redis://:pw@cache:6380/2').mode, 'standalone');
    assert.deepEqual(parseRedisUrl('redis+cluster://a:7000,b:7001,[::1]:7002'), {
      mode: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      username: undefined,
      password: undefined,
      tls: false,
      display: 'redis+cluster://a:7000,b:7001,[::1]:7002',
    });
    const sentinel = parseRedisUrl('redis+sentinel://user:secret@s1:26379,s2/mymaster');
    assert.equal(sentinel.mode, 'sentinel');
    assert.ok(
      sentinel.mode === 'sentinel' && sentinel.masterName === 'mymaster' && sentinel.password === 'secret',
    );
    assert.ok(!sentinel.display.includes('secret'));
  });

  test('bad URLs are one-line errors without the password', () => {
    for (const [url, why] of [
      ['redis+sentinel://s1:26379', /needs the master name/],
      ['redis://a:1,b:2', /names one server/],
      ['http://x', /expected redis:\/\//],
      ['redis://:pw@host:99999', /is not host\[:port\]/],
    ] as const) {
      assert.throws(
        () => parseRedisUrl(url),
        (err: unknown) => {
          assert.ok(err instanceof SharedStateError);
          assert.equal(err.code, 'SHARED_STATE_INVALID_URL');
          assert.match(err.message, why);
          assert.ok(!err.message.includes('pw@'));
          return true;
        },
      );
    }
  });

  test('an unreachable Redis is a SharedStateError naming it', async () => {
    await assert.rejects(createRedisSharedState({ url: 'redis://:secret@127.0.0.1:1' }), (err: unknown) => {
      assert.ok(err instanceof SharedStateError);
      assert.equal(err.code, 'SHARED_STATE_UNREACHABLE');
      assert.match(err.message, /^cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
      assert.ok(!err.message.includes('secret'));
      return true;
    });
  });
});
