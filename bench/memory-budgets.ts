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

/** The node flags that fix a young generation of `mib` MiB a semi-space (its ceiling and its start). */
export function semiSpaceArgs(mib: number): string[] {
  return [`--max-semi-space-size=${mib}`, `--min-semi-space-size=${mib}`];
}

/**
 * The node flags that size `target`'s heap as configured, as its Deployment starts it: the old space's cap and,
 * where the file gives one, the young generation's size (none of either when the file gives none).
 */
export function heapLimitArgs(target: string, root?: string): string[] {
  const mib = readHeapLimits(root).get(target);
  const semiSpace = readSemiSpaces(root).get(target);
  return [
    ...(mib === undefined ? [] : [`--max-old-space-size=${mib}`]),
    ...(semiSpace === undefined ? [] : semiSpaceArgs(semiSpace)),
  ];
}
