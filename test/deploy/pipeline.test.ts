import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requirePackage } from './tools.js';

/** The part of @action-validator/core used here. */
interface ActionValidator {
  validateWorkflow(source: string): { errors: unknown[] };
}
const WORKFLOWS = '.github/workflows';
const workflows = () => readdirSync(WORKFLOWS).filter((f) => f.endsWith('.yml'));

describe('CI/CD pipeline', () => {
  test('workflows are valid against the GitHub Actions workflow schema', async (t) => {
    const av = await requirePackage<ActionValidator>(t, '@action-validator/core');
    if (!av) return;
    assert.deepEqual(workflows().sort(), ['build.yml', 'deploy.yml', 'ops.yml']);
    for (const file of workflows()) {
      const result = av.validateWorkflow(readFileSync(join(WORKFLOWS, file), 'utf8')) as {
        errors: unknown[];
      };
      assert.deepEqual(result.errors, [], file);
    }
  });

  test('every script a workflow runs exists in the repository and is executable', () => {
    for (const file of workflows()) {
      const text = readFileSync(join(WORKFLOWS, file), 'utf8');
      const scripts = [...text.matchAll(/\b(scripts\/(?:ci|ops)\/[a-z-]+\.sh)\b/g)].map((m) => m[1]!);
      assert.ok(scripts.length > 0, file);
      for (const script of scripts) accessSync(script, constants.X_OK);
    }
  });

  test('the heap-profile job installs SIPp, runs the harness and keeps its folder as an artifact', () => {
    const build = readFileSync(join(WORKFLOWS, 'build.yml'), 'utf8');
    const job = build.slice(build.indexOf('\n  heap-profile:'), build.indexOf('\n  image:'));
    assert.match(job, /scripts\/ci\/apt-packages\.sh sip-tester/);
    assert.match(job, /run: scripts\/ci\/heap-profile\.sh/);
    assert.match(job, /uses: actions\/upload-artifact@v4[\s\S]*path: heap-profile\//);
    const script = readFileSync('scripts/ci/heap-profile.sh', 'utf8');
    assert.match(script, /bench\/heap-profile\.ts/);
    assert.doesNotMatch(script, /NOT AVAILABLE/);
    accessSync('bench/heap-profile.ts', constants.R_OK);
  });

  test('the Dockerfile keeps the image contract (no Docker engine here: the build runs in the pipeline)', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    assert.match(dockerfile, /^USER 1000:1000$/m);
    assert.match(dockerfile, /^HEALTHCHECK .*\n.*\/healthz/m);
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /FROM --platform=\$BUILDPLATFORM/);
    for (const dir of ['dist', 'migrations/', 'config/']) assert.ok(dockerfile.includes(dir), dir);
  });

  test('terraform fmt -check (skipped without terraform: not packaged in Debian)', (t) => {
    // Terraform is not in Debian's archive, so CI cannot install it: this check skips there too.
    const found = spawnSync('sh', ['-c', 'command -v terraform']).status === 0;
    if (!found) return t.skip('terraform not installed (not packaged in Debian)');
    const r = spawnSync('terraform', ['fmt', '-check', '-recursive', '-diff', 'deploy/terraform'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
