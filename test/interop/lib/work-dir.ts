import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A scratch folder for one interop test file (client configs, logs, recordings), removed when the file is done
 * unless VOXGATE_INTEROP_KEEP=1 asks to keep it for a look (its path is then printed).
 */
export function interopWorkDir(prefix: string): { readonly path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return {
    path,
    remove() {
      if (process.env.VOXGATE_INTEROP_KEEP === '1') console.error(`interop: kept ${path}`);
      else rmSync(path, { recursive: true, force: true });
    },
  };
}
