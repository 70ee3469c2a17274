import type { FastifyInstance } from 'fastify';
import type { Logger, Registry } from '../observability/index.js';
import type { Database } from '../store/index.js';
import type { SharedState } from '../store/shared-state/index.js';
import type { Config } from './config/index.js';

/** Every module voxgate can run. A target is a set of these plus their dependencies. */
export type ModuleName =
  | 'http-server'
  | 'tracing'
  | 'store'
  | 'shared-state'
  | 'admin-bootstrap'
  | 'api'
  | 'sip-gateway'
  | 'media-relay'
  | 'worker';

/** What started modules offer to the modules that depend on them. */
export interface Services {
  http?: FastifyInstance;
  store?: Database;
  sharedState?: SharedState;
}

export interface ModuleContext {
  /** The module this context is given to (it names the module in errors). */
  readonly module: ModuleName;
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly services: Services;
  /** True once SIGTERM (or shutdown()) has begun: modules refuse new work from then on. */
  readonly isDraining: () => boolean;
  /** The platform's readiness report, for the HTTP server's /readyz. */
  readonly readiness: () => Promise<ReadinessReport>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export interface RunningModule {
  /** Begin accepting traffic (listen). Called in dependency order after every module's init. */
  start?(): Promise<void>;
  /** Throws (with a reason) while the module cannot serve. */
  ready?(): Promise<void>;
  /** Stop taking new work and let running work finish, until `deadline` (epoch ms). */
  drain?(deadline: number): Promise<void>;
  /** Release every resource. Called in reverse dependency order. */
  stop(): Promise<void>;
}

export interface ModuleDefinition {
  readonly name: ModuleName;
  readonly deps: readonly ModuleName[];
  /** Create the module's resources; may put what it offers into `ctx.services`. */
  init(ctx: ModuleContext): Promise<RunningModule>;
}

/** The dependency a module declared, or a clear error naming who forgot to declare it. */
export function requireService<K extends keyof Services>(
  ctx: ModuleContext,
  key: K,
): NonNullable<Services[K]> {
  const service = ctx.services[key];
  if (service === undefined || service === null) {
    throw new Error(`module ${ctx.module} needs service '${key}' but no module provided it; check its deps`);
  }
  return service as NonNullable<Services[K]>;
}
