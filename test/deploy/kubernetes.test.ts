import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { readMemoryBudgets } from '../../bench/memory-budgets.js';
import { envoyBootstrapProblems } from './envoy-schema.js';
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
/** The Deployments running voxgate itself (not the SBC's Envoy). */
const voxgateDeployments = (docs: Doc[]) => deployments(docs).filter((d) => target(d) !== 'sbc');

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
      const found = voxgateDeployments(docs).map(target).sort();
      assert.deepEqual(found, ['api', 'media-relay', 'sip-gateway', 'worker']);
      for (const d of voxgateDeployments(docs)) {
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

    test('secrets reach the pods as files of the ExternalSecret Secret, which rotate without a restart', async (t) => {
      const docs = await render(t, env);
      if (!docs) return;
      const external = docs.find(
        (d) => d.kind === 'ExternalSecret' && d.spec.target.name === 'voxgate-secrets',
      );
      assert.ok(external, 'ExternalSecret voxgate-secrets');
      const keys = new Set<string>(external.spec.data.map((d: Doc) => d.secretKey));
      // A rotated value reaches the Secret within refreshInterval (then the pods within a kubelet sync).
      const refresh = /^(\d+)([smh])$/.exec(external.spec.refreshInterval ?? '');
      assert.ok(refresh, `refreshInterval ${external.spec.refreshInterval}`);
      const seconds = Number(refresh[1]) * { s: 1, m: 60, h: 3600 }[refresh[2] as 's' | 'm' | 'h'];
      assert.ok(
        seconds > 0 && seconds <= 300,
        `refreshInterval ${external.spec.refreshInterval}: at most 5m`,
      );
      // Which target reads which secret: the rotated ones (live) and the URLs (at start).
      const needs: Record<string, string[]> = {
        api: ['VOXGATE_DATABASE_URL', 'VOXGATE_REDIS_URL', 'VOXGATE_ADMIN_API_KEY'],
        'sip-gateway': [
          'VOXGATE_DATABASE_URL',
          'VOXGATE_REDIS_URL',
          'VOXGATE_SIP_NONCE_SECRET',
          'VOXGATE_SIP_PEER_SECRET',
        ],
        worker: ['VOXGATE_DATABASE_URL', 'VOXGATE_REDIS_URL'],
        'media-relay': [],
      };
      for (const d of voxgateDeployments(docs)) {
        const name = `${env}/${d.metadata.name}`;
        const pod = d.spec.template.spec;
        const c = pod.containers[0];
        // Never as environment variables: those keep the value the pod started with.
        assert.ok(!(c.envFrom ?? []).some((e: Doc) => e.secretRef), `${name}: no envFrom secretRef`);
        assert.ok(!(c.env ?? []).some((e: Doc) => e.valueFrom?.secretKeyRef), `${name}: no secretKeyRef`);
        const files = (c.env ?? []).filter((e: Doc) => /^VOXGATE_\w+_FILE$/.test(e.name));
        assert.deepEqual(
          files.map((e: Doc) => e.name.slice(0, -'_FILE'.length)).sort(),
          [...needs[target(d)]!].sort(),
          `${name}: the secrets it reads`,
        );
        for (const file of files) {
          const setting = file.name.slice(0, -'_FILE'.length);
          const mount = (c.volumeMounts ?? []).find((m: Doc) => file.value === `${m.mountPath}/${setting}`);
          assert.ok(mount, `${name}: ${file.value} is in a mounted volume`);
          // A subPath mount is a bind of one file: the kubelet's updates never reach it.
          assert.equal(mount.subPath, undefined, `${name}: ${mount.mountPath} without subPath`);
          assert.equal(mount.readOnly, true, `${name}: ${mount.mountPath} read-only`);
          const volume = pod.volumes.find((v: Doc) => v.name === mount.name);
          assert.equal(
            volume?.secret?.secretName,
            'voxgate-secrets',
            `${name}: ${setting} from voxgate-secrets`,
          );
          const item = (volume.secret.items ?? []).find((i: Doc) => i.path === setting);
          assert.equal(item?.key ?? setting, setting, `${name}: ${setting} is the key of the same name`);
          assert.ok(keys.has(setting), `${name}: ${setting} is filled by the ExternalSecret`);
          // Readable by the pod's group (fsGroup), by nobody else.
          assert.equal(volume.secret.defaultMode, 0o440, `${name}: mode 0440`);
          assert.ok(pod.securityContext?.fsGroup !== undefined, `${name}: fsGroup for the secret files`);
        }
      }
    });

    test('the SBC: Envoy pinned and hardened, its envoy.yaml well-formed, affinity on every SIP listener', async (t) => {
      const docs = await render(t, env);
      if (!docs) return;
      const yaml = await requirePackage<Yaml>(t, 'yaml');
      if (!yaml) return;
      const sbc = deployments(docs).find((d) => target(d) === 'sbc');
      assert.ok(sbc, 'the SBC Deployment');
      const pod = sbc.spec.template.spec;
      const envoy = pod.containers[0];
      assert.match(envoy.image, /^envoyproxy\/envoy:v\d+\.\d+\.\d+$/, 'a pinned Envoy release');
      assert.equal(pod.securityContext?.runAsNonRoot, true);
      assert.equal(envoy.securityContext?.readOnlyRootFilesystem, true);
      assert.equal(envoy.securityContext?.allowPrivilegeEscalation, false);
      assert.deepEqual(envoy.securityContext?.capabilities?.drop, ['ALL']);
      assert.equal(envoy.readinessProbe?.httpGet?.path, '/ready');
      assert.deepEqual(envoy.lifecycle?.preStop?.exec?.command, ['sleep', String(PRESTOP_SECONDS)]);
      assert.equal(pod.terminationGracePeriodSeconds, PRESTOP_SECONDS + MARGIN_SECONDS);

      // envoy.yaml: from the ConfigMap the pod mounts at the path Envoy is started with.
      const configArg = envoy.args[envoy.args.indexOf('-c') + 1] as string;
      const mount = envoy.volumeMounts.find((m: Doc) => configArg.startsWith(`${m.mountPath}/`));
      const volume = pod.volumes.find((v: Doc) => v.name === mount?.name);
      const configMap = docs.find(
        (d) => d.kind === 'ConfigMap' && d.metadata.name === volume?.configMap?.name,
      );
      const text = configMap?.data?.[configArg.slice(mount.mountPath.length + 1)];
      assert.ok(text, `${configArg} is in the mounted ConfigMap`);
      const bootstrap = yaml.parseAllDocuments(text)[0]!.toJS() as Doc;
      assert.deepEqual(envoyBootstrapProblems(bootstrap), [], "every field is one of Envoy's v3 API");
      assert.equal(bootstrap.admin.address.socket_address.address, '127.0.0.1', 'the admin stays in the pod');

      const clusters = new Map<string, Doc>(
        bootstrap.static_resources.clusters.map((c: Doc) => [c.name, c] as const),
      );
      const headless = docs.find(
        (d) =>
          d.kind === 'Service' &&
          d.spec.clusterIP === 'None' &&
          d.metadata.namespace === sbc.metadata.namespace,
      );
      assert.equal(
        headless?.spec.selector['app.kubernetes.io/component'],
        'sip-gateway',
        'upstream: the replicas',
      );
      /** The upstream of a SIP listener: hashed over the replicas' pod addresses, on a port they serve. */
      const upstream = (name: string, protocol: 'UDP' | 'TCP'): Doc => {
        const c = clusters.get(name);
        assert.ok(c, `cluster ${name}`);
        assert.ok(['RING_HASH', 'MAGLEV'].includes(c.lb_policy), `${name}: a consistent hash`);
        assert.equal(c.type, 'STRICT_DNS', `${name}: one endpoint per replica`);
        for (const e of c.load_assignment.endpoints.flatMap((l: Doc) => l.lb_endpoints)) {
          const a = e.endpoint.address.socket_address;
          assert.equal(a.address, headless.metadata.name, `${name} resolves the headless Service`);
          assert.ok(
            headless.spec.ports.some((p: Doc) => p.port === a.port_value && p.protocol === protocol),
            `${name}: the replicas serve ${a.port_value}/${protocol}`,
          );
        }
        return c;
      };
      const lb = docs.find((d) => d.kind === 'Service' && d.spec.type === 'LoadBalancer');
      assert.equal(
        lb?.spec.selector['app.kubernetes.io/component'],
        'sbc',
        'the public SIP address is the SBC',
      );
      const listeners: Doc[] = bootstrap.static_resources.listeners;
      for (const port of lb.spec.ports) {
        const containerPort = envoy.ports.find((p: Doc) => p.name === port.targetPort);
        assert.equal(containerPort?.protocol, port.protocol, `${port.name}: Envoy's port`);
        const listener = listeners.find(
          (l) =>
            l.address.socket_address.port_value === containerPort.containerPort &&
            (l.address.socket_address.protocol ?? 'TCP') === port.protocol,
        );
        assert.ok(listener, `a listener for ${port.name} (${containerPort.containerPort}/${port.protocol})`);
        if (port.protocol === 'UDP') {
          const udp = listener.listener_filters[0].typed_config;
          assert.deepEqual(udp.hash_policies, [{ source_ip: true }], `${port.name}: affinity by source`);
          assert.notEqual(udp.use_per_packet_load_balancing, true);
          upstream(udp.matcher.on_no_match.action.typed_config.cluster, 'UDP');
        } else {
          const tcp = listener.filter_chains[0].filters[0].typed_config;
          assert.deepEqual(tcp.hash_policy, [{ source_ip: {} }], `${port.name}: affinity by source`);
          upstream(tcp.cluster, 'TCP');
        }
      }
      // Every route of the HTTP listener names a cluster that exists.
      for (const l of listeners.filter((x) => x.filter_chains)) {
        for (const f of l.filter_chains.flatMap((c: Doc) => c.filters)) {
          const routes = (f.typed_config.route_config?.virtual_hosts ?? []).flatMap((v: Doc) => v.routes);
          for (const r of routes) assert.ok(clusters.has(r.route.cluster), `route to ${r.route.cluster}`);
        }
      }

      // RTP never through Envoy: no listener, public port or upstream in the relay's RTP range or on the relay.
      const config = parseEnvFile(readFileSync(`config/environments/${env}.env`, 'utf8'));
      const rtp = (port: number) =>
        port >= Number(config.VOXGATE_RTP_PORT_MIN) && port <= Number(config.VOXGATE_RTP_PORT_MAX);
      for (const l of listeners) assert.ok(!rtp(l.address.socket_address.port_value), l.name);
      for (const p of lb.spec.ports) assert.ok(!rtp(p.port), p.name);
      assert.ok(!text.includes('media-relay'), 'no Envoy cluster reaches the media relay');

      // Only the SBC (and the other replicas, for calls handed between them) reach the gateway's SIP ports, and
      // no Service exposes the gateway outside the cluster.
      for (const s of docs.filter(
        (d) => d.kind === 'Service' && d.spec.type !== 'ClusterIP' && d.spec.clusterIP !== 'None',
      ))
        assert.notEqual(s.spec.selector['app.kubernetes.io/component'], 'sip-gateway', s.metadata.name);
      const sipPorts = new Set([5060, 5061]);
      const gatewayPolicies = docs.filter(
        (d) =>
          d.kind === 'NetworkPolicy' &&
          d.spec.podSelector.matchLabels?.['app.kubernetes.io/component'] === 'sip-gateway',
      );
      assert.ok(gatewayPolicies.length > 0);
      for (const policy of gatewayPolicies) {
        for (const rule of policy.spec.ingress ?? []) {
          if (!(rule.ports ?? []).some((p: Doc) => sipPorts.has(p.port))) continue;
          const from: Doc[] = rule.from ?? [];
          assert.ok(from.length > 0, `${policy.metadata.name}: SIP from anywhere`);
          for (const peer of from) {
            assert.ok(
              !peer.ipBlock && !peer.namespaceSelector,
              `${policy.metadata.name}: SIP from ${JSON.stringify(peer)}`,
            );
            assert.ok(
              ['sbc', 'sip-gateway'].includes(peer.podSelector?.matchLabels?.['app.kubernetes.io/component']),
              `${policy.metadata.name}: SIP from ${JSON.stringify(peer)}`,
            );
          }
        }
      }
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
