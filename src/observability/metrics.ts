import { Registry, collectDefaultMetrics, Counter, Gauge, Histogram } from 'prom-client';

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
  const metric = metricsIn(registry);
  metric
    .gauge(
      'voxgate_build_info',
      'Always 1; labels carry the version, target and environment of this process.',
      {
        labelNames: ['version', 'target', 'env'],
      },
    )
    .set(labels, 1);
  const moduleUp = metric.gauge(
    'voxgate_module_up',
    '1 while the module is started and not draining, 0 otherwise.',
    {
      labelNames: ['module'],
    },
  );
  return { registry, moduleUp };
}

/** What a metric may have besides its name and help: labels, and a function that sets it at scrape time. */
export interface MetricOptions<T extends string, M> {
  readonly labelNames?: readonly T[];
  /** Called at every scrape with the metric, before it is read. */
  readonly collect?: (metric: M) => void;
}

/**
 * Makes the metrics of one collector, each registered in `registry` (and in no default registry): the one
 * place that turns a name, a help text and options into a prom-client metric.
 */
export function metricsIn(registry: Registry) {
  /** prom-client calls `collect` with the metric as `this`; ours take it as their argument. */
  const collectOf = <M>(collect: ((metric: M) => void) | undefined) =>
    collect
      ? {
          collect(this: M) {
            collect(this);
          },
        }
      : {};
  return {
    counter<T extends string = never>(
      name: string,
      help: string,
      options: MetricOptions<T, Counter<T>> = {},
    ) {
      const { labelNames = [], collect } = options;
      return new Counter<T>({ name, help, labelNames, registers: [registry], ...collectOf(collect) });
    },
    gauge<T extends string = never>(name: string, help: string, options: MetricOptions<T, Gauge<T>> = {}) {
      const { labelNames = [], collect } = options;
      return new Gauge<T>({ name, help, labelNames, registers: [registry], ...collectOf(collect) });
    },
    histogram<T extends string = never>(
      name: string,
      help: string,
      buckets: readonly number[],
      options: Omit<MetricOptions<T, Histogram<T>>, 'collect'> = {},
    ) {
      const { labelNames = [] } = options;
      return new Histogram<T>({ name, help, labelNames, buckets: [...buckets], registers: [registry] });
    },
  };
}
