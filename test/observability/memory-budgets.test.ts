import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import {
  commandLineArgs,
  heapLimitArgs,
  readHeapGrowth,
  readHeapLimits,
  readMemoryBudgets,
  readSemiSpaces,
} from '../../bench/memory-budgets.js';
import { TARGETS } from '../../src/platform/targets.js';

/** The Deployment of each split target. */
const manifests: Record<string, string> = {
  'sip-gateway': 'deploy/kubernetes/base/core/sip-gateway.yaml',
  api: 'deploy/kubernetes/base/core/api.yaml',
  worker: 'deploy/kubernetes/base/core/worker.yaml',
  'media-relay': 'deploy/kubernetes/base/media/media-relay.yaml',
};

interface Container {
  command?: string[];
  env?: { name: string; value?: string }[];
}

/** The voxgate container of a target's Deployment. */
function container(file: string): Container {
  const deployment = parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as { kind?: string; spec?: { template: { spec: { containers: Container[] } } } })
    .find((d) => d.kind === 'Deployment');
  return deployment!.spec!.template.spec.containers[0]!;
}

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
    for (const [target, file] of Object.entries(manifests))
      assert.deepEqual(flag(readFileSync(file, 'utf8')), [limits.get(target)], file);
    // The all-in-one: the image's default NODE_OPTIONS and `npm start`.
    assert.deepEqual(flag(readFileSync('Dockerfile', 'utf8')), [limits.get('all')], 'Dockerfile');
    const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> })
      .scripts.start!;
    assert.deepEqual(flag(start), [limits.get('all')], 'npm start');
  });

  test('a young generation size and a heap growth are on the node command line of their target, the image entry point otherwise kept', () => {
    const floors = readSemiSpaces();
    const budgets = readMemoryBudgets();
    assert.deepEqual([...floors.keys()].sort(), ['media-relay', 'sip-gateway']);
    assert.deepEqual([...readHeapGrowth().keys()], ['sip-gateway']);
    const entrypoint = JSON.parse(
      /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync('Dockerfile', 'utf8'))![1]!,
    ) as string[];
    assert.equal(entrypoint[0], 'node');
    for (const [target, file] of Object.entries(manifests)) {
      const { command, env } = container(file);
      const flags = commandLineArgs(target);
      // Node refuses --min-semi-space-size and --heap-growing-percent in NODE_OPTIONS (the process would not start).
      const options = env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
      assert.doesNotMatch(options, /semi-space|heap-growing/, file);
      if (flags.length === 0) assert.equal(command, undefined, `${file}: the image's entry point`);
      else assert.deepEqual(command, ['node', ...flags, ...entrypoint.slice(1)], file);
    }
    // What those flags do on this Node: the young generation starts at its size, and the heap's whole limit
    // (old space cap + young generation) stays under the target's RSS budget.
    for (const [target, floor] of floors) {
      const run = spawnSync(
        process.execPath,
        [
          ...heapLimitArgs(target),
          '-p',
          `const v8 = require('node:v8');
           JSON.stringify({
             young: v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size,
             limit: v8.getHeapStatistics().heap_size_limit,
           })`,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(run.status, 0, run.stderr);
      const { young, limit } = JSON.parse(run.stdout) as { young: number; limit: number };
      assert.ok(young >= floor * 2 ** 20, `${target}: young generation ${young} B, size ${floor} MiB`);
      assert.ok(
        limit < budgets.get(target)! * 2 ** 20,
        `${target}: heap limit ${limit} B within its RSS budget`,
      );
    }
  });
});
