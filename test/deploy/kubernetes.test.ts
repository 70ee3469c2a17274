import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { readMemoryBudgets } from '../../bench/memory-budgets.js';
import { parseEnvFile, requirePackage, requireTool } from './tools.js';

/** The part of the `yaml` package used here (declared locally: the test skips when it is not installed). */
interface Yaml {
  parseAllDocuments(text: string): { toJS(): unknown }[];
}
/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are checked field by field */
type Doc = Record<string, any>;

const ENVIRONMENTS = ['staging', 'production'] as const;
const PRESTOP_SECONDS = 15;
const MARGIN_SECONDS = 15;

/**
 * Offline schema validation: the JSON schemas of the Kubernetes API (kubernetes-models) and of the CRDs used
 * (cert-manager, prometheus-operator, external-secrets), compiled validators shipped in npm packages.
 * external-secrets.io/v1 is checked against the v1beta1 schema: the package ships only that one, and the
 * fields used here (secretStoreRef, target, data[].remoteRef.key) are the same in both versions.
 */
const MODELS: Record<string, string> = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'autoscaling/v2': 'kubernetes-models/autoscaling/v2',
  'policy/v1': 'kubernetes-models/policy/v1',
  'networking.k8s.io/v1': 'kubernetes-models/networking.k8s.io/v1',
  'rbac.authorization.k8s.io/v1': 'kubernetes-models/rbac.authorization.k8s.io/v1',
  'cert-manager.io/v1': '@kubernetes-models/cert-manager/cert-manager.io/v1',
  'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
  'external-secrets.io/v1': '@kubernetes-models/external-secrets/external-secrets.io/v1beta1',
};

const rendered: Record<string, { status: number | null; stdout: string; stderr: string }> = {};

async function render(t: TestContext, env: string): Promise<Doc[] | undefined> {
  if (!requireTool(t, 'kubectl', 'kubectl with kustomize: Debian package kubernetes-client'))
    return undefined;
  const yaml = await requirePackage<Yaml>(t, 'yaml');
  if (!yaml) return undefined;
  const r = (rendered[env] ??= spawnSync('bash', ['scripts/ci/render-manifests.sh', env], {
    encoding: 'utf8',
  }));
  assert.equal(r.status, 0, `render-manifests.sh ${env}: ${r.stderr}`);
  return yaml
    .parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Doc)
    .filter(Boolean);
}

const deployments = (docs: Doc[]) => docs.filter((d) => d.kind === 'Deployment');
const target = (d: Doc): string => d.spec.template.metadata.labels['app.kubernetes.io/component'];

for (const env of ENVIRONMENTS) {
  describe(`kubernetes ${env} overlay`, () => {
    test('every object is valid against the Kubernetes / CRD schemas', async (t) => {
      const docs = await render(t, env);
      if (!docs) return;
      for (const doc of docs) {
        const path = MODELS[doc.apiVersion];
        assert.ok(path, `no schema for ${doc.apiVersion} (${doc.kind} ${doc.metadata?.name})`);
        const mod = await requirePackage<Record<string, new (d: Doc) => { validate(): void }>>(t, path);
        if (!mod) return;
        const Model = mod[doc.kind];
        assert.ok(Model, `no schema for ${doc.apiVersion} ${doc.kind}`);
        const checked =
          doc.apiVersion === 'external-secrets.io/v1'
            ? { ...doc, apiVersion: 'external-secrets.io/v1beta1' }
            : doc;
        assert.doesNotThrow(() => new Model(checked).validate(), `${doc.kind} ${doc.metadata?.name}`);
      }
    });

    test('namespaces carry Pod Security labels; objects live in them; no Secret in the manifests', async (t) => {
      const docs = await render(t, env);
      if (!docs) return;
      const namespaces = docs.filter((d) => d.kind === 'Namespace');
      assert.ok(namespaces.length > 0);
      for (const ns of namespaces) {
        const labels = ns.metadata.labels ?? {};
        const hostNetwork = deployments(docs).some(
          (d) => d.metadata.namespace === ns.metadata.name && d.spec.template.spec.hostNetwork,
        );
        // The one exception is the media namespace: host network (docs/deployment.md), still warned at baseline.
        if (hostNetwork) {
          assert.equal(labels['pod-security.kubernetes.io/enforce'], 'privileged', ns.metadata.name);
          assert.equal(labels['pod-security.kubernetes.io/warn'], 'baseline', ns.metadata.name);
          assert.ok(
            deployments(docs)
              .filter((d) => d.metadata.namespace === ns.metadata.name)
              .every((d) => target(d) === 'media-relay'),
            'only the media relay runs in the host-network namespace',
          );
        } else {
          assert.equal(labels['pod-security.kubernetes.io/enforce'], 'baseline', ns.metadata.name);
        }
      }
      const names = new Set(namespaces.map((n) => n.metadata.name));
      for (const doc of docs.filter((d) => d.kind !== 'Namespace'))
        assert.ok(
          names.has(doc.metadata.namespace),
          `${doc.kind} ${doc.metadata.name} in ${doc.metadata.namespace}`,
        );
      assert.deepEqual(
        docs.filter((d) => d.kind === 'Secret'),
        [],
      );
    });

    test('the ConfigMap is config/environments/<env>.env', async (t) => {
      const docs = await render(t, env);
      if (!docs) return;
      const expected = parseEnvFile(readFileSync(`config/environments/${env}.env`, 'utf8'));
      const configMaps = docs.filter(
        (d) => d.kind === 'ConfigMap' && d.metadata.name.startsWith('voxgate-config'),
      );
      assert.ok(configMaps.length > 0);
      for (const cm of configMaps)
        assert.deepEqual(cm.data, expected, `${cm.metadata.namespace}/${cm.metadata.name}`);
    });

    test('every Deployment: probes, resources from the memory budgets, hardened, drains within its grace', async (t) => {
      const docs = await render(t, env);
      if (!docs) return;
      const config = parseEnvFile(readFileSync(`config/environments/${env}.env`, 'utf8'));
      const budgets = readMemoryBudgets();
      const found = deployments(docs).map(target).sort();
      assert.deepEqual(found, ['api', 'media-relay', 'sip-gateway', 'worker']);
      for (const d of deployments(docs)) {
        const name = d.metadata.name as string;
        const pod = d.spec.template.spec;
        assert.equal(pod.containers.length, 1, name);
        const c = pod.containers[0];
        assert.deepEqual(c.args, [`--target=${target(d)}`], name);
        assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', name);
        assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', name);
        assert.equal(pod.securityContext?.runAsNonRoot, true, name);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, name);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, name);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], name);
        assert.equal(pod.automountServiceAccountToken, false, name);
        const mounts = (c.volumeMounts ?? []).map((m: Doc) => m.mountPath);
        assert.ok(mounts.includes('/tmp') && mounts.includes('/var/lib/voxgate'), `${name} writable mounts`);
        // Memory request = limit = the target's RSS budget (config/memory-budgets.yml).
        const budget = `${budgets.get(target(d))}Mi`;
        assert.equal(c.resources?.limits?.memory, budget, `${name} memory limit`);
        assert.equal(c.resources?.requests?.memory, budget, `${name} memory request`);
        assert.ok(c.resources?.requests?.cpu, `${name} cpu request`);
        // Rollouts drop no call: preStop, then the drain of VOXGATE_SHUTDOWN_GRACE_SECONDS, within the grace.
        const grace = Number(
          c.env?.find((e: Doc) => e.name === 'VOXGATE_SHUTDOWN_GRACE_SECONDS')?.value ??
            config.VOXGATE_SHUTDOWN_GRACE_SECONDS,
        );
        assert.deepEqual(c.lifecycle?.preStop?.exec?.command, ['sleep', String(PRESTOP_SECONDS)], name);
        assert.equal(pod.terminationGracePeriodSeconds, PRESTOP_SECONDS + grace + MARGIN_SECONDS, name);
        assert.ok(
          c.envFrom.some((e: Doc) => e.configMapRef?.name.startsWith('voxgate-config')),
          name,
        );
      }
    });

    test('HPA, PDB, NetworkPolicies and monitoring for every Deployment', async (t) => {
      const docs = await render(t, env);
      if (!docs) return;
      for (const d of deployments(docs)) {
        const ns = d.metadata.namespace;
        const inNs = (kind: string) => docs.filter((x) => x.kind === kind && x.metadata.namespace === ns);
        const hpa = inNs('HorizontalPodAutoscaler').find(
          (h) => h.spec.scaleTargetRef.name === d.metadata.name,
        );
        assert.ok(hpa, `HPA for ${d.metadata.name}`);
        const pdb = inNs('PodDisruptionBudget').find(
          (p) => p.spec.selector.matchLabels['app.kubernetes.io/component'] === target(d),
        );
        assert.ok(pdb, `PDB for ${d.metadata.name}`);
        assert.ok(inNs('ServiceMonitor').length > 0, `ServiceMonitor in ${ns}`);
        const metrics = inNs('Service').some(
          (s) =>
            s.spec.selector?.['app.kubernetes.io/component'] === target(d) &&
            s.spec.ports.some((p: Doc) => p.name === 'http'),
        );
        assert.ok(metrics, `metrics Service for ${d.metadata.name}`);
        if (!d.spec.template.spec.hostNetwork) {
          const deny = inNs('NetworkPolicy').find(
            (n) => Object.keys(n.spec.podSelector).length === 0 && n.spec.policyTypes.includes('Ingress'),
          );
          assert.ok(deny, `default-deny NetworkPolicy in ${ns}`);
          assert.ok(
            inNs('NetworkPolicy').some(
              (n) => n.spec.podSelector.matchLabels?.['app.kubernetes.io/component'] === target(d),
            ),
            `NetworkPolicy for ${d.metadata.name}`,
          );
        }
      }
      assert.ok(docs.some((d) => d.kind === 'PrometheusRule'));
      const certs = docs.filter((d) => d.kind === 'Certificate').map((c) => c.spec.secretName);
      assert.deepEqual(certs.sort(), ['voxgate-api-tls', 'voxgate-sip-tls']);
      const secrets = docs.find(
        (d) => d.kind === 'ExternalSecret' && d.spec.target.name === 'voxgate-secrets',
      );
      assert.ok(secrets, 'ExternalSecret voxgate-secrets');
      // Every secret has its own entry in the secret store: none is another's value under a second name.
      const remoteKeys = new Map<string, string>(
        secrets.spec.data.map((d: Doc) => [d.secretKey, d.remoteRef.key] as const),
      );
      assert.equal(new Set(remoteKeys.values()).size, remoteKeys.size, 'one remote key per secret');
      assert.equal(remoteKeys.get('VOXGATE_SIP_NONCE_SECRET'), `voxgate/${env}/sip-nonce-secret`);
      assert.equal(remoteKeys.get('VOXGATE_SIP_PEER_SECRET'), `voxgate/${env}/sip-peer-secret`);
    });

    if (env === 'production') {
      test('production: multi-zone spread, anti-affinity, at least 3 replicas, host-network media pool', async (t) => {
        const docs = await render(t, env);
        if (!docs) return;
        for (const d of deployments(docs)) {
          const pod = d.spec.template.spec;
          const zone = (pod.topologySpreadConstraints ?? []).find(
            (c: Doc) => c.topologyKey === 'topology.kubernetes.io/zone',
          );
          assert.equal(zone?.whenUnsatisfiable, 'DoNotSchedule', `${d.metadata.name} zone spread`);
          assert.ok(pod.affinity?.podAntiAffinity, `${d.metadata.name} anti-affinity`);
        }
        for (const hpa of docs.filter((d) => d.kind === 'HorizontalPodAutoscaler'))
          assert.ok(hpa.spec.minReplicas >= (hpa.spec.scaleTargetRef.name === 'voxgate-worker' ? 2 : 3));
        const media = deployments(docs).find((d) => target(d) === 'media-relay')!;
        assert.equal(media.spec.template.spec.hostNetwork, true);
        assert.equal(media.spec.template.spec.nodeSelector['voxgate.io/pool'], 'media');
        assert.ok(
          media.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution,
        );
        const sip = docs.find((d) => d.kind === 'Service' && d.spec.type === 'LoadBalancer');
        assert.equal(sip?.spec.externalTrafficPolicy, 'Local');
      });
    }
  });
}
