import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/platform/config/index.js';
import { moduleRegistry } from '../../src/platform/modules/index.js';
import { parseTargets, resolveModules, TARGETS } from '../../src/platform/targets.js';

describe('targets and the module graph', () => {
  test('--target takes a comma list and refuses unknown names', () => {
    assert.deepEqual(parseTargets('api, worker,api'), ['api', 'worker']);
    assert.throws(
      () => parseTargets('api,gateway'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /'gateway' is not one of all, sip-gateway, media-relay, api, worker/);
        return true;
      },
    );
  });

  test('every module comes after its dependencies, for every target', () => {
    for (const target of TARGETS) {
      const order = resolveModules([target], moduleRegistry).map((m) => m.name);
      assert.equal(new Set(order).size, order.length, `${target}: a module appears twice`);
      for (const [i, name] of order.entries()) {
        for (const dep of moduleRegistry.get(name)?.deps ?? []) {
          assert.ok(order.indexOf(dep) >= 0 && order.indexOf(dep) < i, `${target}: ${name} before ${dep}`);
        }
      }
    }
  });

  test('each target runs only what it needs', () => {
    const names = (t: Parameters<typeof resolveModules>[0]) =>
      resolveModules(t, moduleRegistry).map((m) => m.name);
    assert.deepEqual(names(['media-relay']), ['http-server', 'tracing', 'media-relay']);
    assert.ok(!names(['api']).includes('sip-gateway'));
    assert.ok(names(['api']).includes('admin-bootstrap'));
    assert.deepEqual(new Set(names(['all'])), new Set(moduleRegistry.keys()));
  });

  test('a dependency cycle is reported with its path', () => {
    const cyclic = new Map([
      ['api', { name: 'api', deps: ['store'], init: async () => ({ stop: async () => undefined }) }],
      ['store', { name: 'store', deps: ['api'], init: async () => ({ stop: async () => undefined }) }],
    ] as const);
    assert.throws(() => resolveModules(['api'], cyclic), /module dependency cycle: api -> store -> api/);
  });
});
