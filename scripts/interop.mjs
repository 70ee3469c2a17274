#!/usr/bin/env node
// The interop suite (`npm run test:interop [client-filter ...]`): real softphones against voxgate on its
// defaults and against the reference (Kamailio + RTPengine), in a loopback-only network namespace so every
// server keeps its standard ports and nothing on the machine is disturbed. Re-executes itself under
// `unshare -n` (or `unshare -rn` when not root), brings loopback up, runs test/interop/*.test.ts one file at a
// time, then writes docs/interop.md from the results (scripts/interop-report.mjs).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);

if (process.env.VOXGATE_INTEROP_NETNS !== '1') {
  const root = process.getuid?.() === 0;
  const result = spawnSync(
    'unshare',
    [
      root ? '-n' : '-rn',
      'sh',
      '-c',
      'ip link set lo up && exec "$0" "$@"',
      process.execPath,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, VOXGATE_INTEROP_NETNS: '1' } },
  );
  if (result.error) {
    console.error(`interop: cannot make a network namespace (unshare): ${result.error.message}`);
    process.exit(1);
  }
  if (result.status === 0 || result.status === 1) {
    const report = spawnSync(process.execPath, ['scripts/interop-report.mjs'], { stdio: 'inherit' });
    if (report.status !== 0) process.exit(report.status ?? 1);
  }
  process.exit(result.status ?? 1);
}

const files = readdirSync('test/interop')
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => args.length === 0 || args.some((a) => f.includes(a)))
  .sort()
  .map((f) => join('test/interop', f));
if (files.length === 0) {
  console.error('interop: no test file matched');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=900000', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
