// Runs deploy/ansible/dr-redeploy.yml with the JSON callback, for test/deploy/ansible*.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

export const ANSIBLE_DIR = resolve('deploy/ansible');
export const SAMPLE_OUTPUTS = join(ANSIBLE_DIR, 'sample-outputs.json');

export interface HostResult {
  changed?: boolean;
  skipped?: boolean;
  failed?: boolean;
  msg?: string;
  stdout?: string;
  results?: HostResult[];
}
export interface JsonRun {
  status: number | null;
  stderr: string;
  tasks: { name: string; result: HostResult }[];
  stats: Record<string, { failures: number; ok: number; skipped: number; changed: number }>;
}

/** ansible-playbook with the JSON callback: every task's name and result for localhost. */
export function playbook(args: string[]): JsonRun {
  const r = spawnSync('ansible-playbook', ['dr-redeploy.yml', ...args], {
    cwd: ANSIBLE_DIR,
    encoding: 'utf8',
    env: {
      ...process.env,
      ANSIBLE_STDOUT_CALLBACK: 'json',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
      // Modules through the interpreter's stdin, no temporary files: a little less work per task.
      ANSIBLE_PIPELINING: '1',
    },
    timeout: 240_000,
  });
  const out = JSON.parse(r.stdout) as {
    plays: { tasks: { task: { name: string }; hosts: Record<string, HostResult> }[] }[];
    stats: JsonRun['stats'];
  };
  return {
    status: r.status,
    stderr: r.stderr,
    tasks: out.plays.flatMap((p) => p.tasks.map((t) => ({ name: t.task.name, result: t.hosts.localhost! }))),
    stats: out.stats,
  };
}

/** A task by its name (the JSON callback prefixes a role's tasks with `<role> : `). */
export const find = (run: JsonRun, name: string) =>
  run.tasks.find((t) => t.name === name || t.name.endsWith(` : ${name}`));
export const ran = (run: JsonRun, name: string): HostResult => {
  const task = find(run, name);
  assert.ok(task, `task "${name}" is in the run`);
  assert.notEqual(task.result.skipped, true, `task "${name}" ran`);
  return task.result;
};
export const skipped = (run: JsonRun, name: string): void => {
  const task = find(run, name);
  assert.ok(task, `task "${name}" is in the run`);
  assert.equal(task.result.skipped, true, `task "${name}" was skipped`);
};
