// The shared state on a Redis Cluster that speaks only TLS, as AWS ElastiCache with encryption in transit (the URL
// Terraform's Redis module writes is `rediss+cluster://…`): the nodes' certificate names a host, not an address,
// and the nodes announce themselves by that name (test/helpers/redis-topologies.ts, startRedisTlsCluster). The
// client runs in a child process that trusts the test CA through NODE_EXTRA_CA_CERTS. Skips without redis-server,
// redis-cli or openssl, except in CI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  redisTopologiesUnavailable,
  startRedisTlsCluster,
  type RedisTlsClusterTopology,
} from '../helpers/redis-topologies.js';

const run = promisify(execFile);
const noOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0;
if (noOpenssl && process.env.CI) throw new Error('openssl is required in CI');
const unavailable = redisTopologiesUnavailable() || (noOpenssl && 'openssl is not installed');
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'store', 'shared-state-round-trip.ts');

describe('shared state on a TLS-only Redis Cluster (ElastiCache-like)', { skip: unavailable }, () => {
  let cluster: RedisTlsClusterTopology | undefined;
  before(async () => {
    cluster = await startRedisTlsCluster();
  });
  after(() => cluster?.stop());

  test('rediss+cluster:// with the nodes named by host: writes and reads, the certificate checked', async () => {
    const c = cluster!;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', FIXTURE, c.url], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: c.caFile },
      timeout: 60_000,
    });
    assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}'), { bindings: 1, events: 1 });
  });

  test('a CA the client does not trust: refused, with an error, not a hang', async () => {
    const c = cluster!;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', FIXTURE, c.url], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      timeout: 60_000,
    });
    const out = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { error?: string };
    assert.ok(out.error, `no error: ${stdout}`);
  });
});
