#!/usr/bin/env node
// Builds the web console (web/console) into dist/console: esbuild bundles each page's TypeScript with Preact,
// htm and (for the softphone) SIP.js into dist/console/assets/, and the HTML pages are copied beside them.
// `npm run build` runs it; `npm start`'s build-if-changed.mjs runs it when web/console or this file changed.
// Usage: node scripts/build-console.mjs [outdir]
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE = join(ROOT, 'web', 'console');

/** Builds the console into `outdir` (default dist/console); resolves when every file is written. */
export async function buildConsole(outdir = join(ROOT, 'dist', 'console')) {
  const started = performance.now();
  await rm(outdir, { recursive: true, force: true });
  await mkdir(join(outdir, 'assets'), { recursive: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: {
      console: join(SOURCE, 'src', 'main.ts'),
      phone: join(SOURCE, 'src', 'phone.ts'),
      style: join(SOURCE, 'style.css'),
    },
    outdir: join(outdir, 'assets'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
  });
  for (const page of ['index.html', 'phone.html']) await copyFile(join(SOURCE, page), join(outdir, page));
  return { outdir, ms: performance.now() - started };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { outdir, ms } = await buildConsole(process.argv[2]);
  console.log(`build-console: ${outdir} in ${(ms / 1000).toFixed(1)} s`);
}
