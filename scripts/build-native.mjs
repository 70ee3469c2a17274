#!/usr/bin/env node
// Builds the native UDP addon of the SIP port and the media relay (native/udp-batch/udp-batch.cc → dist/native/udp-batch.node) with
// the machine's C++ compiler against Node's own headers. It uses N-API and libuv's uv_poll only, both stable
// across Node.js versions, so one build serves every Node.js >= 20 on the same OS and architecture.
//
// Without Linux, a compiler or the headers it says why and exits 0: SIP and the relay then run on dgram
// sockets (VOXGATE_SIP_UDP and VOXGATE_MEDIA_UDP=auto), as before the addon. `--required` makes that an error (the image's build stage).
// Rebuilds only when the source or this script is newer than the output.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

const SOURCE = 'native/udp-batch/udp-batch.cc';
const OUTPUT = 'dist/native/udp-batch.node';
const required = process.argv.includes('--required');

function skip(reason) {
  if (required) {
    console.error(`build-native: ${reason}`);
    process.exit(1);
  }
  console.log(`build-native: skipped (${reason}); SIP and the relay will use Node.js dgram sockets`);
  process.exit(0);
}

if (process.platform !== 'linux') skip(`the addon is for Linux, this is ${process.platform}`);

const newest = Math.max(statSync(SOURCE).mtimeMs, statSync(new URL(import.meta.url)).mtimeMs);
if (existsSync(OUTPUT) && statSync(OUTPUT).mtimeMs >= newest) process.exit(0);

// Node's headers: npm's nodedir when set, else next to the running node (official builds, Debian's nodejs).
const headerDirs = [
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include/node'),
  join(dirname(process.execPath), '../include/node'),
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean);
const headers = headerDirs.find(
  (dir) => existsSync(join(dir, 'node_api.h')) && existsSync(join(dir, 'uv.h')),
);
if (!headers) skip(`no Node.js headers (node_api.h and uv.h) in ${headerDirs.join(', ')}`);

const compiler = process.env.CXX || 'c++';
if (spawnSync(compiler, ['--version'], { stdio: 'ignore' }).status !== 0)
  skip(`no C++ compiler (${compiler})`);

mkdirSync(dirname(OUTPUT), { recursive: true });
const args = ['-O2', '-std=c++17', '-shared', '-fPIC', '-fvisibility=hidden', '-Wall', '-Wextra', '-Werror'];
const result = spawnSync(compiler, [...args, `-I${headers}`, SOURCE, '-o', `${OUTPUT}.tmp`], {
  stdio: 'inherit',
});
if (result.status !== 0) {
  console.error(`build-native: ${compiler} failed on ${SOURCE}`);
  process.exit(1);
}
renameSync(`${OUTPUT}.tmp`, OUTPUT);
console.log(`build-native: ${OUTPUT} (${compiler}, headers ${headers})`);
