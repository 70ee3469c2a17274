// The Kamailio configurations the benchmarks compare voxgate with are kept in the repo: they must stay valid
// for Kamailio 5.6 (Debian package kamailio), checked with `kamailio -c` in every define combination used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const FIXTURES = join(import.meta.dirname, '..', '..', 'bench', 'fixtures');
const installed = spawnSync('which', ['kamailio']).status === 0;
if (!installed && process.env.CI) throw new Error('kamailio (Debian package kamailio) is required in CI');

const cases: [string, string[]][] = [
  ['kamailio-options.cfg', []],
  ['kamailio-registrar.cfg', []],
  ['kamailio-proxy.cfg', ['-A', 'UAS="sip:127.0.0.1:5999"']],
  ['kamailio-proxy.cfg', ['-A', 'UAS="sip:127.0.0.1:5999"', '-A', 'RTPENGINE="udp:127.0.0.1:2223"']],
];

for (const [file, defines] of cases) {
  test(
    `kamailio -c accepts bench/fixtures/${file} ${defines.filter((d) => d !== '-A').join(' ')}`,
    {
      skip: installed ? false : 'kamailio not installed',
    },
    () => {
      const r = spawnSync('kamailio', ['-c', '-f', join(FIXTURES, file), ...defines], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    },
  );
}
