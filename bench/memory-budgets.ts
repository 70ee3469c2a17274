import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** `config/memory-budgets.yml` as target → MiB (a flat file: one `name: { rssMiB: N, load: '…' }` per line). */
export function readMemoryBudgets(root = join(import.meta.dirname, '..')): Map<string, number> {
  const text = readFileSync(join(root, 'config', 'memory-budgets.yml'), 'utf8');
  const budgets = new Map<string, number>();
  for (const m of text.matchAll(/^ {2}([a-z-]+):\s*\{\s*rssMiB:\s*(\d+)/gm)) budgets.set(m[1]!, Number(m[2]));
  return budgets;
}
