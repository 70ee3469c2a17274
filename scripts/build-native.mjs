#!/usr/bin/env node
// Builds the native addons with the machine's C++ compiler against Node's own headers:
// - native/udp-batch/udp-batch.cc → dist/native/udp-batch.node: the batched UDP sockets of the SIP port and the
//   media relay. N-API and libuv's uv_poll only, both stable across Node.js versions.
// - native/srtp-crypto/srtp-crypto.cc → dist/native/srtp-crypto.node: SRTP's per-packet AES-CM and HMAC-SHA1,
//   on N-API and the OpenSSL that Node.js carries (its headers in include/node/openssl, its symbols exported by
//   the node binary), so nothing is linked here.
// One build serves every Node.js >= 20 on the same OS and architecture.
//
// Without Linux, a compiler or the headers it says why and exits 0: SIP and the relay then run on dgram
// sockets (VOXGATE_SIP_UDP and VOXGATE_MEDIA_UDP=auto) and SRTP in JavaScript, as before the addons.
// `--required` makes that an error (the image's build stage). Rebuilds an addon only when its source or this
// script is newer than its output.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ADDONS = [
  {
    source: 'native/udp-batch/udp-batch.cc',
    output: 'dist/native/udp-batch.node',
    headers: ['node_api.h', 'uv.h'],
    without: 'SIP and the relay will use Node.js dgram sockets',
  },
  {
    source: 'native/srtp-crypto/srtp-crypto.cc',
    output: 'dist/native/srtp-crypto.node',
    headers: ['node_api.h', 'openssl/evp.h', 'openssl/sha.h'],
    without: 'SRTP will run in JavaScript',
  },
];
const required = process.argv.includes('--required');
let failed = false;

function skip(addon, reason) {
  if (required) {
    console.error(`build-native: ${addon.output}: ${reason}`);
    failed = true;
  } else console.log(`build-native: ${addon.output} skipped (${reason}); ${addon.without}`);
}

// Node's headers: npm's nodedir when set, else next to the running node (official builds, Debian's nodejs).
const headerDirs = [
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include/node'),
  join(dirname(process.execPath), '../include/node'),
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean);
const compiler = process.env.CXX || 'c++';
const scriptTime = statSync(new URL(import.meta.url)).mtimeMs;

for (const addon of ADDONS) {
  if (process.platform !== 'linux') {
    skip(addon, `the addons are for Linux, this is ${process.platform}`);
    continue;
  }
  const newest = Math.max(statSync(addon.source).mtimeMs, scriptTime);
  if (existsSync(addon.output) && statSync(addon.output).mtimeMs >= newest) continue;
  const headers = headerDirs.find((dir) => addon.headers.every((h) => existsSync(join(dir, h))));
  if (!headers) {
    skip(addon, `no Node.js headers (${addon.headers.join(', ')}) in ${headerDirs.join(', ')}`);
    continue;
  }
  if (spawnSync(compiler, ['--version'], { stdio: 'ignore' }).status !== 0) {
    skip(addon, `no C++ compiler (${compiler})`);
    continue;
  }
  mkdirSync(dirname(addon.output), { recursive: true });
  const args = [
    '-O2',
    '-std=c++17',
    '-shared',
    '-fPIC',
    '-fvisibility=hidden',
    '-Wall',
    '-Wextra',
    '-Werror',
  ];
  const result = spawnSync(compiler, [...args, `-I${headers}`, addon.source, '-o', `${addon.output}.tmp`], {
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error(`build-native: ${compiler} failed on ${addon.source}`);
    process.exit(1);
  }
  renameSync(`${addon.output}.tmp`, addon.output);
  console.log(`build-native: ${addon.output} (${compiler}, headers ${headers})`);
}
if (failed) process.exit(1);
