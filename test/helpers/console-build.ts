// The web console's build (dist/console) for the browser tests. `npm test` builds it before any test runs; a test
// file run alone after an edit of web/console needs it built again. Rebuilding unconditionally in each file's
// `before` was a race: scripts/build-console.mjs empties dist/console first, so a file starting while another
// file's browser loaded /console got a missing page or a half-written bundle, and the page never rendered
// ("waiting for locator('#api-key')", 30 s, in CI). Now the build runs only when an input is newer than it.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const OUTPUTS = ['index.html', 'phone.html', 'assets/console.js', 'assets/phone.js', 'assets/style.css'].map(
  (f) => join(ROOT, 'dist', 'console', f),
);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

const mtime = (file: string): number | undefined => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
};

/** Builds dist/console when an output is missing or older than web/console, its build script or the lockfile. */
export function ensureConsoleBuilt(): void {
  const inputs = [
    ...filesUnder(join(ROOT, 'web', 'console')),
    join(ROOT, 'scripts', 'build-console.mjs'),
    join(ROOT, 'package-lock.json'),
  ];
  const newestInput = Math.max(...inputs.map((f) => mtime(f) ?? 0));
  const outputs = OUTPUTS.map(mtime);
  if (outputs.every((t) => t !== undefined && t >= newestInput)) return;
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-console.mjs')], {
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`scripts/build-console.mjs failed: ${build.stderr}`);
}
