import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readHeapLimits, readMemoryBudgets } from '../../bench/memory-budgets.js';
import { TARGETS } from '../../src/platform/targets.js';

describe('memory budgets', () => {
  test('every target has a budget, and the alert rules use the same numbers', () => {
    const budgets = readMemoryBudgets();
    assert.deepEqual([...budgets.keys()].sort(), [...TARGETS].sort());
    const rules = readFileSync('observability/prometheus/rules/voxgate.rules.yml', 'utf8');
    const recorded = new Map(
      [...rules.matchAll(/expr: vector\((\d+)\)\s+labels:\s+target: ([a-z-]+)/g)].map((m) => [
        m[2]!,
        Number(m[1]) / 2 ** 20,
      ]),
    );
    assert.deepEqual(Object.fromEntries(recorded), Object.fromEntries(budgets));
  });

  test('every target runs with its heap cap wherever it is started', () => {
    const limits = readHeapLimits();
    const budgets = readMemoryBudgets();
    assert.deepEqual([...limits.keys()].sort(), [...TARGETS].sort());
    for (const [target, mib] of limits)
      assert.ok(mib < budgets.get(target)!, `${target}: heap cap ${mib} MiB below its RSS budget`);
    const flag = (text: string) => [...text.matchAll(/--max-old-space-size=(\d+)/g)].map((m) => Number(m[1]));
    // One Deployment per split target, each with its NODE_OPTIONS.
    const manifests: Record<string, string> = {
      'sip-gateway': 'deploy/kubernetes/base/core/sip-gateway.yaml',
      api: 'deploy/kubernetes/base/core/api.yaml',
      worker: 'deploy/kubernetes/base/core/worker.yaml',
      'media-relay': 'deploy/kubernetes/base/media/media-relay.yaml',
    };
    for (const [target, file] of Object.entries(manifests))
      assert.deepEqual(flag(readFileSync(file, 'utf8')), [limits.get(target)], file);
    // The all-in-one: the image's default NODE_OPTIONS and `npm start`.
    assert.deepEqual(flag(readFileSync('Dockerfile', 'utf8')), [limits.get('all')], 'Dockerfile');
    const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> })
      .scripts.start!;
    assert.deepEqual(flag(start), [limits.get('all')], 'npm start');
  });
});
