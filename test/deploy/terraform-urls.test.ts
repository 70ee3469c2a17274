// The connection URLs the Terraform modules write to Secrets Manager are ones voxgate's configuration accepts,
// with the meaning intended (the Redis module's once carried `?tls=true`, which voxgate's URL grammar has no
// place for: voxgate would have stopped at start on the URL Terraform gave it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/platform/config/index.js';
import { parseRedisUrl } from '../../src/store/shared-state/index.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The `secret_string` of the module's `aws_secretsmanager_secret_version`, its interpolations given values. */
async function secretString(module: string, values: Record<string, string>): Promise<string> {
  const tf = await readFile(join(ROOT, 'deploy', 'terraform', 'modules', module, 'main.tf'), 'utf8');
  const m =
    /resource "aws_secretsmanager_secret_version" "\w+" \{[^}]*?secret_string\s*=\s*"((?:[^"\\]|\\.)*)"/s.exec(
      tf,
    );
  assert.ok(m?.[1], `no secret_string in modules/${module}/main.tf`);
  return m[1].replace(/\$\{([^}]+)\}/g, (_, expr: string) => {
    const value = values[expr.trim()];
    assert.ok(value !== undefined, `no value given for \${${expr}}`);
    return value;
  });
}

test('modules/redis: the redis-url secret is a TLS Redis Cluster URL VOXGATE_REDIS_URL accepts', async () => {
  const url = await secretString('redis', {
    'random_password.auth.result': 'A1b2C3d4'.repeat(8),
    'aws_elasticache_replication_group.this.configuration_endpoint_address':
      'clustercfg.voxgate-production.abc123.euw1.cache.amazonaws.com',
  });
  assert.equal(loadConfig({ VOXGATE_REDIS_URL: url }).redis.url, url);
  const target = parseRedisUrl(url);
  assert.equal(target.mode, 'cluster');
  assert.ok(
    target.mode === 'cluster' && target.tls,
    'encryption in transit is on in the cluster, so TLS here',
  );
  assert.equal(target.password, 'A1b2C3d4'.repeat(8));
});
