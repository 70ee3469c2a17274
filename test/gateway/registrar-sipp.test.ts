import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';

const SCENARIO = join(import.meta.dirname, '..', 'fixtures', 'sipp', 'register-digest.xml');
const sippInstalled = spawnSync('sipp', ['-v']).status !== null && spawnSync('which', ['sipp']).status === 0;
if (!sippInstalled && process.env.CI) throw new Error('SIPp (Debian package sip-tester) is required in CI');

/** Runs SIPp to completion (asynchronously: the gateway under test runs in this process). */
function sipp(args: string[], cwd: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('sipp', [...args, '-nostdin', '-trace_err', '-trace_msg'], { cwd, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

describe(
  'registrar against SIPp, a real UA implementation',
  { skip: !sippInstalled && 'sipp not installed' },
  () => {
    let gw: GatewayHarness;
    let dir: string;
    before(async () => {
      // SIPp 3.6 reads only the first challenge and knows only MD5 ("createAuthHeader: authentication must use
      // MD5 or AKAv1-MD5"), like many deployed phones: VOXGATE_SIP_DIGEST_ALGORITHMS=MD5,SHA-256 serves them.
      gw = await startGateway({ digestAlgorithms: ['MD5', 'SHA-256'] });
      dir = mkdtempSync(join(tmpdir(), 'voxgate-sipp-'));
    });
    after(async () => {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('SIPp registers alice with digest authentication and the binding is stored', async () => {
      const localPort = String(20_000 + Math.floor(Math.random() * 20_000));
      const code = await sipp(
        [
          '-sf',
          SCENARIO,
          `127.0.0.1:${gw.port}`,
          '-i',
          '127.0.0.1',
          '-p',
          localPort,
          '-m',
          '1',
          '-s',
          'alice',
          '-au',
          'alice',
          '-ap',
          's3cret',
          '-key',
          'domain',
          'acme.example',
          '-timeout',
          '15s',
          '-timeout_error',
        ],
        dir,
      );
      const log = readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .map((f) => readFileSync(join(dir, f), 'utf8'))
        .join('\n');
      assert.equal(code, 0, `sipp exited ${code}\n${log.slice(-3000)}`);
      const [binding] = await gw.state.registrations.list('sip:alice@acme.example');
      assert.equal(binding?.contact, `sip:alice@127.0.0.1:${localPort}`);
      assert.equal(binding?.userAgent, 'SIPp');
    });

    test('SIPp with a wrong password is refused', async () => {
      const code = await sipp(
        [
          '-sf',
          SCENARIO,
          `127.0.0.1:${gw.port}`,
          '-i',
          '127.0.0.1',
          '-p',
          String(20_000 + Math.floor(Math.random() * 20_000)),
          '-m',
          '1',
          '-s',
          'alice',
          '-au',
          'alice',
          '-ap',
          'wrong',
          '-key',
          'domain',
          'acme.example',
          '-timeout',
          '15s',
          '-timeout_error',
        ],
        dir,
      );
      assert.notEqual(code, 0, 'the scenario expects 200 and must fail');
    });
  },
);
