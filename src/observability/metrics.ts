import { Registry, collectDefaultMetrics, Gauge } from 'prom-client';

export { Registry, Counter, Gauge, Histogram } from 'prom-client';

/**
 * One Prometheus registry per process: Node's process metrics (RSS, heap, event-loop lag, GC) under their
 * standard names, plus `voxgate_build_info` and `voxgate_module_up`.
 */
export function createMetricsRegistry(labels: { version: string; target: string; env: string }): {
  registry: Registry;
  moduleUp: Gauge<'module'>;
} {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  const buildInfo = new Gauge({
    name: 'voxgate_build_info',
    help: 'Always 1; labels carry the version, target and environment of this process.',
    labelNames: ['version', 'target', 'env'],
    registers: [registry],
  });
  buildInfo.set(labels, 1);
  const moduleUp = new Gauge({
    name: 'voxgate_module_up',
    help: '1 while the module is started and not draining, 0 otherwise.',
    labelNames: ['module'],
    registers: [registry],
  });
  return { registry, moduleUp };
}
