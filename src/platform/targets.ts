import { ConfigError } from './config/index.js';
import type { ModuleDefinition, ModuleName } from './module.js';

export const TARGETS = ['all', 'sip-gateway', 'media-relay', 'api', 'worker'] as const;
export type Target = (typeof TARGETS)[number];

/** The modules each target asks for; their dependencies are added by resolveModules(). */
export const targetModules: Record<Target, readonly ModuleName[]> = {
  all: ['api', 'sip-gateway', 'media-relay', 'worker'],
  'sip-gateway': ['sip-gateway'],
  'media-relay': ['media-relay'],
  api: ['api'],
  worker: ['worker'],
};

/** Parses `--target` (a comma list); an unknown name is a one-line ConfigError. */
export function parseTargets(value: string): Target[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0)
    throw new ConfigError('CONFIG_INVALID_TARGET', `--target is empty: expected ${TARGETS.join(', ')}`);
  for (const name of names) {
    if (!(TARGETS as readonly string[]).includes(name)) {
      throw new ConfigError(
        'CONFIG_INVALID_TARGET',
        `--target=${value} is invalid: '${name}' is not one of ${TARGETS.join(', ')}`,
      );
    }
  }
  return [...new Set(names)] as Target[];
}

/**
 * The modules of the targets with all their dependencies, ordered so that each comes after what it
 * depends on (depth-first topological sort; a cycle is a programming error).
 */
export function resolveModules(
  targets: readonly Target[],
  registry: ReadonlyMap<ModuleName, ModuleDefinition>,
): ModuleDefinition[] {
  const order: ModuleDefinition[] = [];
  const state = new Map<ModuleName, 'visiting' | 'done'>();
  const visit = (name: ModuleName, path: ModuleName[]): void => {
    const seen = state.get(name);
    if (seen === 'done') return;
    if (seen === 'visiting') throw new Error(`module dependency cycle: ${[...path, name].join(' -> ')}`);
    const def = registry.get(name);
    if (!def) throw new Error(`module ${name} is not registered`);
    state.set(name, 'visiting');
    for (const dep of def.deps) visit(dep, [...path, name]);
    state.set(name, 'done');
    order.push(def);
  };
  for (const target of targets) for (const name of targetModules[target]) visit(name, []);
  return order;
}
