import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { requirePackage, requireTool } from './tools.js';

/** The part of the `yaml` package used here (declared locally: the test skips when it is not installed). */
interface Yaml {
  parse(text: string, options?: { merge?: boolean }): unknown;
}
interface ComposeService {
  command?: string[];
  env_file?: string[];
  environment?: Record<string, string>;
  read_only?: boolean;
  volumes?: string[];
}

const DEV = 'config/docker/dev.compose.yml';
const OBS = 'config/docker/observability.compose.yml';
const LOCAL = 'config/docker/local.compose.yml';

function compose(...files: string[]) {
  return spawnSync('docker-compose', [...files.flatMap((f) => ['-f', f]), 'config', '-q'], {
    encoding: 'utf8',
  });
}

describe('docker compose files', () => {
  test('docker-compose config accepts the dev stack alone, with observability, with local images', (t) => {
    if (!requireTool(t, 'docker-compose', 'Debian package docker-compose')) return;
    for (const files of [[DEV], [DEV, OBS], [DEV, LOCAL]]) {
      const r = compose(...files);
      assert.equal(r.status, 0, `docker-compose config -q ${files.join(' ')}: ${r.stderr}`);
    }
  });

  test('every voxgate target is a service on one image, read-only, with the dev env file', async (t) => {
    const yaml = await requirePackage<Yaml>(t, 'yaml');
    if (!yaml) return;
    const { readFileSync } = await import('node:fs');
    const doc = yaml.parse(readFileSync(DEV, 'utf8'), { merge: true }) as {
      services: Record<string, ComposeService>;
    };
    for (const target of ['sip-gateway', 'media-relay', 'api', 'worker']) {
      const service = doc.services[target];
      assert.ok(service, `service ${target}`);
      assert.deepEqual(service.command, [`--target=${target}`]);
      assert.deepEqual(service.env_file, ['../environments/dev.env']);
      assert.equal(service.read_only, true);
      assert.match(service.environment?.VOXGATE_DATABASE_URL ?? '', /^postgres:\/\/.*@postgres:5432\//);
      assert.match(service.environment?.VOXGATE_REDIS_URL ?? '', /^redis:\/\/redis:6379/);
    }
    for (const name of ['postgres', 'redis', 'prometheus', 'grafana', 'loki'])
      assert.ok(doc.services[name], name);
    const grafana = doc.services.grafana!.volumes ?? [];
    assert.ok(grafana.some((v) => v.startsWith('../../observability/grafana/dashboards:')));
    const obs = yaml.parse(readFileSync(OBS, 'utf8')) as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    assert.deepEqual(Object.keys(obs.services).sort(), [
      'alertmanager',
      'media-relay',
      'sip-gateway',
      'tempo',
      'worker',
    ]);
    // The targets that see calls send their traces to Tempo's OTLP/HTTP port.
    for (const name of ['sip-gateway', 'media-relay', 'worker'])
      assert.equal(obs.services[name]?.environment?.VOXGATE_TRACES_OTLP_ENDPOINT, 'http://tempo:4318');
  });

  test('Prometheus scrapes every target with a job the alert rules match', async (t) => {
    const yaml = await requirePackage<Yaml>(t, 'yaml');
    if (!yaml) return;
    const { readFileSync } = await import('node:fs');
    const prom = yaml.parse(readFileSync('config/docker/prometheus.yml', 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    for (const target of ['sip-gateway', 'media-relay', 'api', 'worker']) {
      const job = prom.scrape_configs.find((j) => j.job_name === `voxgate-${target}`);
      assert.deepEqual(job?.static_configs[0]?.targets, [`${target}:8080`]);
    }
    assert.ok(readdirSync('config/docker').includes('alertmanager.yml'));
  });

  test('promtool accepts the dev Prometheus configuration', (t) => {
    if (!requireTool(t, 'promtool', 'Debian package prometheus')) return;
    // --syntax-only: the rule files are mounted at another path in the container.
    const r = spawnSync('promtool', ['check', 'config', '--syntax-only', 'config/docker/prometheus.yml'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
