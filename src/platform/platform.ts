import { createLogger, createMetricsRegistry, logsWritten, type Logger } from '../observability/index.js';
import type { Config } from './config/index.js';
import type { ModuleContext, ModuleDefinition, ReadinessReport, RunningModule, Services } from './module.js';
import { moduleRegistry } from './modules/index.js';
import { resolveModules, type Target } from './targets.js';
import { VERSION } from './version.js';
import { exportNativeUdpMetrics } from './native-udp-metrics.js';

export interface Platform {
  readonly modules: readonly string[];
  readonly services: Services;
  readonly logger: Logger;
  readiness(): Promise<ReadinessReport>;
  /** Drain (refuse new work, let running work finish until the grace period ends), then stop everything. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Starts the modules of the targets in dependency order: every module's init first, then every start.
 * If anything fails, what was already set up is stopped in reverse order and the error is thrown.
 */
export async function startPlatform(options: {
  config: Config;
  targets: readonly Target[];
  logger?: Logger;
}): Promise<Platform> {
  const { config, targets } = options;
  const targetLabel = targets.join(',');
  const logger =
    options.logger ?? createLogger({ level: config.logLevel, env: config.env, target: targetLabel });
  const { registry: metrics, moduleUp } = createMetricsRegistry({
    version: VERSION,
    target: targetLabel,
    env: config.env,
  });
  exportNativeUdpMetrics(metrics);
  const definitions = resolveModules(targets, moduleRegistry);
  const services: Services = {};
  const running: { def: ModuleDefinition; module: RunningModule; started: boolean }[] = [];
  let draining = false;
  let stopping: Promise<void> | undefined;

  const readiness = async (): Promise<ReadinessReport> => {
    const checks: ReadinessReport['checks'] = {};
    await Promise.all(
      running.map(async ({ def, module, started }) => {
        if (!started) return void (checks[def.name] = { ok: false, detail: 'not started' });
        if (draining) return void (checks[def.name] = { ok: false, detail: 'draining' });
        try {
          await module.ready?.();
          checks[def.name] = { ok: true };
        } catch (err) {
          checks[def.name] = { ok: false, detail: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    const ready = running.length === definitions.length && Object.values(checks).every((c) => c.ok);
    return { ready, checks };
  };

  const ctx: Omit<ModuleContext, 'module'> = {
    config,
    logger,
    metrics,
    services,
    isDraining: () => draining,
    readiness,
  };

  const stopAll = async (): Promise<void> => {
    for (const { def, module } of [...running].reverse()) {
      try {
        await module.stop();
        moduleUp.set({ module: def.name }, 0);
      } catch (err) {
        logger.error({ err, module: def.name }, 'module failed to stop cleanly');
      }
    }
  };

  const began = performance.now();
  try {
    for (const def of definitions) {
      const module = await def.init({ ...ctx, module: def.name, logger: logger.child({ module: def.name }) });
      running.push({ def, module, started: false });
    }
    for (const entry of running) {
      await entry.module.start?.();
      entry.started = true;
      moduleUp.set({ module: entry.def.name }, 1);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  const names = new Set(definitions.map((d) => d.name));
  if (!config.redis.url && names.has('sip-gateway') && !names.has('worker')) {
    // The gateway's call events (and registration changes) go to in-process streams that only a worker in this
    // process could read: a split gateway needs Redis for its CDRs and webhooks.
    logger.warn(
      { targets: targetLabel },
      'no VOXGATE_REDIS_URL and no worker in this process: call events stay here, so no CDRs or webhooks are made from them',
    );
  }
  logger.info(
    {
      modules: definitions.map((d) => d.name),
      startupMs: Math.round(performance.now() - began),
      version: VERSION,
    },
    'voxgate started',
  );

  return {
    modules: definitions.map((d) => d.name),
    services,
    logger,
    readiness,
    shutdown(reason: string): Promise<void> {
      stopping ??= (async () => {
        draining = true;
        for (const { def } of running) moduleUp.set({ module: def.name }, 0);
        const deadline = Date.now() + config.shutdownGraceMs;
        logger.info({ reason, graceMs: config.shutdownGraceMs }, 'draining');
        await Promise.all(running.map(({ module }) => module.drain?.(deadline)));
        await stopAll();
        logger.info({ reason }, 'voxgate stopped');
        // The process exits next: the last lines must be out of libuv's thread pool first.
        await logsWritten(logger);
      })();
      return stopping;
    },
  };
}
