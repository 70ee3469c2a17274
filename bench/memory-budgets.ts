import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** `config/memory-budgets.yml` as target → MiB (a flat file: one `name: { rssMiB: N, load: '…' }` per line). */
export function readMemoryBudgets(root = join(import.meta.dirname, '..')): Map<string, number> {
  const text = readFileSync(join(root, 'config', 'memory-budgets.yml'), 'utf8');
  const budgets = new Map<string, number>();
  for (const m of text.matchAll(/^ {2}([a-z-]+):\s*\{\s*rssMiB:\s*(\d+)/gm)) budgets.set(m[1]!, Number(m[2]));
  return budgets;
}

/** One numeric field of each target's entry in `config/memory-budgets.yml`, as target → value (targets without it left out). */
function readTargetField(field: string, root: string): Map<string, number> {
  const text = readFileSync(join(root, 'config', 'memory-budgets.yml'), 'utf8');
  const values = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^ {2}([a-z-]+):\\s*\\{[^}]*\\b${field}:\\s*(\\d+)`, 'gm')))
    values.set(m[1]!, Number(m[2]));
  return values;
}

/**
 * `config/memory-budgets.yml`'s heap caps as target → MiB: the `--max-old-space-size` each target runs with
 * (Kubernetes NODE_OPTIONS, the image's default, `npm start`, and the servers the benches start).
 */
export function readHeapLimits(root = join(import.meta.dirname, '..')): Map<string, number> {
  return readTargetField('heapMiB', root);
}

/**
 * `config/memory-budgets.yml`'s young-generation sizes as target → MiB: the `--max-semi-space-size` and
 * `--min-semi-space-size` a target runs with (on its Deployment's command line: Node refuses the second in
 * NODE_OPTIONS). Only the targets that set one.
 */
export function readSemiSpaces(root = join(import.meta.dirname, '..')): Map<string, number> {
  return readTargetField('semiSpaceMiB', root);
}

/**
 * `config/memory-budgets.yml`'s old-generation growth as target → percent: the `--heap-growing-percent` a target
 * runs with (its Deployment's command line: Node refuses it in NODE_OPTIONS). Only the targets that set one.
 */
export function readHeapGrowth(root = join(import.meta.dirname, '..')): Map<string, number> {
  return readTargetField('heapGrowingPercent', root);
}

/** The node flags that fix a young generation of `mib` MiB a semi-space (its ceiling and its start). */
function semiSpaceArgs(mib: number): string[] {
  return [`--max-semi-space-size=${mib}`, `--min-semi-space-size=${mib}`];
}

/**
 * The node flags of `target` that only node's command line takes (Node refuses them in NODE_OPTIONS): its young
 * generation's size and its old generation's growth, where the file gives them. Its Deployment's `command`
 * carries them before the image's entry point.
 */
export function commandLineArgs(target: string, root?: string): string[] {
  const semiSpace = readSemiSpaces(root).get(target);
  const growth = readHeapGrowth(root).get(target);
  return [
    ...(semiSpace === undefined ? [] : semiSpaceArgs(semiSpace)),
    ...(growth === undefined ? [] : [`--heap-growing-percent=${growth}`]),
  ];
}

/**
 * The node flags that size `target`'s heap as configured, as its Deployment starts it: the old space's cap and,
 * where the file gives them, the young generation's size and the old generation's growth.
 */
export function heapLimitArgs(target: string, root?: string): string[] {
  const mib = readHeapLimits(root).get(target);
  return [...(mib === undefined ? [] : [`--max-old-space-size=${mib}`]), ...commandLineArgs(target, root)];
}
