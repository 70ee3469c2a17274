import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const DIR = 'observability/grafana/dashboards';

interface Dashboard {
  uid: string;
  title: string;
  panels: { id: number; title: string; targets: { expr: string }[] }[];
}

const dashboards = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, json: JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Dashboard }));

describe('Grafana dashboards as code', () => {
  test("the seed's five dashboards exist with unique uids and panel ids", () => {
    assert.deepEqual(dashboards.map((d) => d.json.uid).sort(), [
      'voxgate-api',
      'voxgate-infrastructure',
      'voxgate-media',
      'voxgate-memory',
      'voxgate-signalling',
    ]);
    for (const { file, json } of dashboards) {
      const ids = json.panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: duplicate panel id`);
      assert.ok(
        json.panels.every((p) => p.targets.length > 0 && p.targets.every((t) => t.expr.length > 0)),
        file,
      );
    }
  });

  describe('every metric a dashboard queries is one voxgate exports', () => {
    let vx: VoxgateProcess;
    before(async () => {
      vx = await startVoxgate([]);
    });
    after(() => vx.stop());

    test('names in dashboards exist in /metrics of a running voxgate (or as recording rules)', async () => {
      const exposition = await (await fetch(`${vx.httpUrl}/metrics`)).text();
      const exported = new Set([...exposition.matchAll(/^# TYPE (\S+) \w+$/gm)].map((m) => m[1]!));
      const rules = readFileSync('observability/prometheus/rules/voxgate.rules.yml', 'utf8');
      const recorded = new Set([...rules.matchAll(/- record: (\S+)/g)].map((m) => m[1]!));
      const missing: string[] = [];
      for (const { file, json } of dashboards) {
        for (const panel of json.panels) {
          for (const { expr } of panel.targets) {
            for (const [, name] of expr.matchAll(/\b((?:voxgate|process|nodejs)[_:][a-z0-9_:]+)\b/g)) {
              const base = name!.replace(/_(bucket|count|sum)$/, '');
              if (!exported.has(base) && !recorded.has(name!))
                missing.push(`${file} "${panel.title}": ${name}`);
            }
          }
        }
      }
      assert.deepEqual(missing, []);
    });
  });
});
