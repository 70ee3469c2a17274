import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readMemoryBudgets } from '../../bench/memory-budgets.js';
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
});
