// The disaster-recovery playbook (deploy/ansible/dr-redeploy.yml) with Debian's ansible and ansible-lint:
// syntax check, lint (production profile), outputs without an active secondary region refused. Its check-mode
// run is ansible-check-mode.test.ts, its restore role for real ansible-restore.test.ts. What is not run here:
// a real secondary cluster, RDS, S3 and Secrets Manager (docs/deployment.md).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANSIBLE_DIR, find, playbook, SAMPLE_OUTPUTS } from './ansible-run.js';
import { requireTool } from './tools.js';

const tools = (t: TestContext) =>
  requireTool(t, 'ansible-playbook', 'Debian package ansible') &&
  requireTool(t, 'kubectl', 'Debian package kubernetes-client');

describe('disaster-recovery playbook (deploy/ansible)', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'voxgate-ansible-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('ansible-playbook --syntax-check accepts it', (t) => {
    if (!requireTool(t, 'ansible-playbook', 'Debian package ansible')) return;
    const r = spawnSync('ansible-playbook', ['--syntax-check', 'dr-redeploy.yml'], {
      cwd: ANSIBLE_DIR,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  test('ansible-lint finds nothing (production profile)', (t) => {
    if (!requireTool(t, 'ansible-lint', 'Debian package ansible-lint')) return;
    const r = spawnSync('ansible-lint', ['--offline', '--profile', 'production', '--nocolor'], {
      cwd: ANSIBLE_DIR,
      encoding: 'utf8',
      timeout: 240_000,
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /Passed with production profile: 0 failure\(s\), 0 warning\(s\)/);
  });

  test('outputs without an active secondary region are refused before anything runs', async (t) => {
    if (!tools(t)) return;
    const outputs = JSON.parse(await readFile(SAMPLE_OUTPUTS, 'utf8')) as {
      dr: { value: { active: boolean } };
    };
    outputs.dr.value.active = false;
    const inactive = join(work, 'inactive.json');
    await writeFile(inactive, JSON.stringify(outputs));
    const run = playbook([
      '--check',
      '-e',
      `tf_outputs_file=${inactive}`,
      '-e',
      'dr_targets_reachable=false',
    ]);
    assert.equal(run.status, 2);
    const refused = find(run, 'Check the outputs describe an active secondary region');
    assert.equal(refused?.result.failed, true);
    assert.match(refused?.result.msg ?? '', /terraform apply -var dr_active=true/);
    assert.equal(find(run, 'Render the overlay'), undefined);
  });
});
