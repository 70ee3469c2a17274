#!/usr/bin/env node
// `npm start`'s prestart: builds only what changed since the last build it made, instead of the whole build
// (tsc and the PGlite template, ~15 s idle and 40 s on a busy machine) on every start.
//
// - compile: the content of every file under src/, tsconfig*.json and package-lock.json, hashed; when the hash
//   differs from the one in dist/.build-inputs.json, or an output is missing, tsc runs — incrementally
//   (dist/.tsbuildinfo), so a few edited files take ~2 s, not the full compile.
// - template: dist/pglite-template.tar.gz depends only on its script and the installed PGlite version.
// - console: the web console (dist/console) depends on everything under web/console, its build script and
//   package-lock.json (Preact, htm, SIP.js); esbuild rebuilds it whole in well under a second.
//
// - native: the addons (dist/native/udp-batch.node: the UDP sockets of the SIP port and the relay;
//   dist/native/srtp-crypto.node: SRTP's cipher and tag) depend on their sources and scripts/build-native.mjs,
//   which skips one (dgram sockets, SRTP in JavaScript) where it cannot be built; then it is tried again at the
//   next start.
//
// Migrations are not built: the store reads them from migrations/ at start. `npm run build` still builds
// everything; the next start then compiles once more to record its hash.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const STAMP = 'dist/.build-inputs.json';
const BUILD_INFO = 'dist/.tsbuildinfo';
const TEMPLATE = 'dist/pglite-template.tar.gz';
const CONSOLE_PAGE = 'dist/console/index.html';
const NATIVE_ADDONS = ['dist/native/udp-batch.node', 'dist/native/srtp-crypto.node'];

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

function hashOf(files, extra = '') {
  const hash = createHash('sha256').update(extra);
  for (const file of files) hash.update(`\0${file}\0`).update(existsSync(file) ? readFileSync(file) : '');
  return hash.digest('hex');
}

function run(label, args) {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`build-if-changed: ${label} failed`);
    process.exit(result.status ?? 1);
  }
  console.log(`build-if-changed: ${label} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const sources = filesUnder('src');
const inputs = {
  compile: hashOf([...sources, 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json']),
  template: hashOf(
    ['scripts/build-pglite-template.mjs'],
    JSON.parse(readFileSync('node_modules/@electric-sql/pglite/package.json', 'utf8')).version,
  ),
  console: hashOf([...filesUnder('web/console'), 'scripts/build-console.mjs', 'package-lock.json']),
  native: hashOf([...filesUnder('native'), 'scripts/build-native.mjs']),
};
let built = {};
try {
  built = JSON.parse(readFileSync(STAMP, 'utf8'));
} catch {
  // No stamp (never built by this script, or dist removed): everything is built.
}

// tsc --incremental re-emits only what it thinks changed: an output deleted since is not written again.
const outputs = sources
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => join('dist', relative('.', f)).replace(/\.ts$/, '.js'));
const outputsComplete = outputs.every((f) => existsSync(f));
if (!outputsComplete) rmSync(BUILD_INFO, { force: true });

const compile = built.compile !== inputs.compile || !outputsComplete;
const template = built.template !== inputs.template || !existsSync(TEMPLATE);
const consoleApp = built.console !== inputs.console || !existsSync(CONSOLE_PAGE);
const nativeAddon = built.native !== inputs.native || !NATIVE_ADDONS.every((f) => existsSync(f));
if (compile) {
  run('tsc', [
    'node_modules/typescript/bin/tsc',
    '-p',
    'tsconfig.build.json',
    '--incremental',
    '--tsBuildInfoFile',
    BUILD_INFO,
  ]);
}
if (template) run('PGlite template', ['scripts/build-pglite-template.mjs']);
if (consoleApp) run('web console', ['scripts/build-console.mjs']);
if (nativeAddon) run('native addons', ['scripts/build-native.mjs']);
if (compile || template || consoleApp || nativeAddon)
  writeFileSync(STAMP, `${JSON.stringify(inputs, null, 2)}\n`);
else console.log('build-if-changed: dist is up to date with src/ and web/console (nothing to build)');
