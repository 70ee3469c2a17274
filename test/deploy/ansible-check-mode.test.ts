// The disaster-recovery playbook (deploy/ansible/dr-redeploy.yml) in check mode against localhost with the
// sample Terraform outputs and no cluster, database or bucket to reach (dr_targets_reachable=false): the run
// must complete, run the offline tasks (outputs read and checked, the secondary region's overlay written and
// rendered by kubectl kustomize, the rendered manifests checked) and skip every task that would talk to the
// cluster, the database, S3 or Secrets Manager. (A file of its own: one playbook run takes most of a minute
// on a loaded machine.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { playbook, ran, SAMPLE_OUTPUTS, skipped } from './ansible-run.js';
import { requireTool } from './tools.js';

describe('disaster-recovery playbook in check mode (deploy/ansible)', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'voxgate-ansible-check-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('--check against localhost with the sample outputs and nothing to reach: completes', (t) => {
    if (!requireTool(t, 'ansible-playbook', 'Debian package ansible')) return;
    if (!requireTool(t, 'kubectl', 'Debian package kubernetes-client')) return;
    const overlay = join(work, 'overlay');
    const run = playbook([
      '--check',
      '-e',
      `tf_outputs_file=${SAMPLE_OUTPUTS}`,
      '-e',
      'dr_targets_reachable=false',
      '-e',
      `overlay_deploy_work_dir=${overlay}`,
      '-e',
      `postgres_restore_work_dir=${join(work, 'restore')}`,
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stats.localhost?.failures, 0);
    ran(run, 'Read the Terraform outputs');
    ran(run, 'Check the outputs describe an active secondary region');
    ran(run, 'Derive where the database dumps are');
    ran(run, "Write the secondary region's overlay");
    ran(run, 'Check the manifests use the replica bucket in the secondary region');
    // Everything that talks to the cluster, the database, S3 or Secrets Manager.
    for (const name of [
      'Write the kubeconfig of the secondary cluster',
      "Ask the secondary cluster's API server whether it is ready",
      "List the secondary cluster's nodes",
      'Find the newest dump in the replica bucket',
      'Download the newest dump and its manifest',
      'Read the master password of the secondary database',
      'Count the tables already in the database',
      'Restore the dump',
      'Check the secrets the pods read exist in the secondary region',
      'Apply the overlay to the secondary cluster',
      'Wait for every rollout',
      'Run the post-deploy verification (scripts/ops/verify.sh)',
    ])
      skipped(run, name);

    // The manifests kubectl kustomize rendered: both namespaces' ConfigMap on the replica bucket, and the
    // Deployments use that ConfigMap.
    const rendered = ran(run, 'Render the overlay').stdout ?? '';
    const docs = rendered
      .split(/^---$/m)
      .map(
        (d) =>
          parse(d) as {
            kind?: string;
            metadata?: { name: string; namespace?: string };
            data?: Record<string, string>;
          },
      )
      .filter((d) => d?.kind);
    const configs = docs.filter(
      (d) => d.kind === 'ConfigMap' && d.metadata?.name.startsWith('voxgate-config'),
    );
    assert.deepEqual(configs.map((c) => c.metadata?.namespace).sort(), ['voxgate', 'voxgate-media']);
    for (const c of configs) {
      assert.equal(
        c.data?.VOXGATE_RECORDINGS_URL,
        's3://voxgate-production-recordings-backups-replica/recordings',
      );
      assert.equal(c.data?.VOXGATE_BACKUP_URL, 's3://voxgate-production-recordings-backups-replica/postgres');
      assert.equal(c.data?.VOXGATE_S3_REGION, 'eu-central-1');
      assert.equal(c.data?.VOXGATE_ENV, 'production', 'the rest of the environment is kept');
    }
    // Every reference to the ConfigMap (the Deployments' envFrom) names the merged one, none an older hash.
    const referenced = new Set(rendered.match(/voxgate-config-[a-z0-9]+/g));
    assert.deepEqual([...referenced], [configs[0]!.metadata!.name]);
    const users = docs.filter(
      (d) => d.kind === 'Deployment' && JSON.stringify(d).includes('voxgate-config-'),
    );
    assert.ok(
      users.length >= 4,
      `the Deployments that read it: ${users.map((d) => d.metadata?.name).join(', ')}`,
    );
  });
});
