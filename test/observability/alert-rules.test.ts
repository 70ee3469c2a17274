import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const RULES = 'observability/prometheus/rules/voxgate.rules.yml';
const RULE_TESTS = 'observability/prometheus/tests/voxgate.test.yml';
const rulesText = readFileSync(RULES, 'utf8');

const promtool = spawnSync('promtool', ['--version']).status === 0;
if (!promtool && process.env.CI) throw new Error('promtool (Debian package prometheus) is required in CI');
const amtool = spawnSync('amtool', ['--version']).status === 0;
if (!amtool && process.env.CI)
  throw new Error('amtool (Debian package prometheus-alertmanager) is required in CI');
const ALERTMANAGER = 'observability/alertmanager/alertmanager.yml';

describe('alert rules', () => {
  test(
    'promtool check rules and promtool test rules pass',
    { skip: !promtool && 'promtool not installed' },
    () => {
      for (const args of [
        ['check', 'rules', RULES],
        ['test', 'rules', RULE_TESTS],
      ]) {
        const run = spawnSync('promtool', args, { encoding: 'utf8' });
        assert.equal(run.status, 0, `promtool ${args.join(' ')}:\n${run.stdout}\n${run.stderr}`);
      }
    },
  );

  test('every alert has a severity, a runbook entry, and a unit test', () => {
    const alerts = [...rulesText.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    assert.ok(alerts.length >= 8);
    const runbooks = readFileSync('docs/runbooks.md', 'utf8');
    const headings = new Set([...runbooks.matchAll(/^## (\w+)$/gm)].map((m) => m[1]!.toLowerCase()));
    const ruleTests = readFileSync(RULE_TESTS, 'utf8');
    for (const alert of alerts) {
      const block = rulesText.slice(rulesText.indexOf(`- alert: ${alert}`)).split('- alert:')[1]!;
      assert.match(block, /severity: (critical|warning|info)/, `${alert} has a severity`);
      assert.ok(
        block.includes(`runbook_url: docs/runbooks.md#${alert.toLowerCase()}`),
        `${alert} links its runbook`,
      );
      assert.ok(headings.has(alert.toLowerCase()), `docs/runbooks.md has a section for ${alert}`);
      assert.ok(ruleTests.includes(`alertname: ${alert}`), `${alert} has a promtool unit test`);
    }
  });
});

describe('alertmanager example configuration', { skip: !amtool && 'amtool not installed' }, () => {
  test('amtool check-config passes', () => {
    const run = spawnSync('amtool', ['check-config', ALERTMANAGER], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
  });

  test('critical alerts page the on-call receiver, warnings go to operations', () => {
    const route = (labels: string[]) =>
      spawnSync('amtool', ['config', 'routes', 'test', `--config.file=${ALERTMANAGER}`, ...labels], {
        encoding: 'utf8',
      }).stdout.trim();
    assert.equal(route(['severity=critical', 'alertname=VoxgateInstanceDown']), 'voxgate-oncall');
    assert.equal(route(['severity=warning', 'alertname=VoxgateApiLatencyHigh']), 'voxgate-ops');
  });
});

describe('every metric a rule names is one voxgate exports', () => {
  let vx: VoxgateProcess;
  before(async () => {
    vx = await startVoxgate([]);
  });
  after(() => vx.stop());

  test('names in rules exist in /metrics of a running voxgate', async () => {
    const exposition = await (await fetch(`${vx.httpUrl}/metrics`)).text();
    const exported = new Set([...exposition.matchAll(/^# TYPE (\S+) (\w+)$/gm)].map((m) => m[1]!));
    const named = new Set(
      [...rulesText.matchAll(/\b((?:voxgate|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) =>
        m[1]!.replace(/_(bucket|count|sum)$/, ''),
      ),
    );
    assert.ok(named.size >= 6);
    assert.deepEqual(
      [...named].filter((name) => !exported.has(name)),
      [],
    );
  });
});
