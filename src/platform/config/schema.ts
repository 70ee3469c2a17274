import { apiSection } from './api.js';
import { callsSection } from './calls.js';
import { generalSection } from './general.js';
import { httpSection } from './http.js';
import { mediaRelaySection } from './media-relay.js';
import { secretsSection } from './secrets.js';
import type { ConfigSection, Setting, Settings } from './setting.js';
import { sharedStateSection } from './shared-state.js';
import { sipSection } from './sip.js';
import { storeSection } from './store.js';
import { tracingSection } from './tracing.js';
import { webhooksSection } from './webhooks.js';
import { workerSection } from './worker.js';

/** Every module's settings, in the order `voxgate --help` lists them. */
export const sections = [
  generalSection,
  httpSection,
  tracingSection,
  storeSection,
  sharedStateSection,
  apiSection,
  sipSection,
  secretsSection,
  callsSection,
  mediaRelaySection,
  workerSection,
  webhooksSection,
] as const;

type Section = (typeof sections)[number];
type Built<S> = S extends ConfigSection<Settings, infer C> ? C : never;
type Intersection<U> = (U extends unknown ? (part: U) => void : never) extends (all: infer I) => void
  ? I
  : never;

/** The effective, validated configuration of one voxgate process: what the sections build, together. */
export type Config = Intersection<Built<Section>> & {
  /** Secret settings given as `<NAME>_FILE` (setting name → path): read at start, watched for rotation. */
  readonly secretFiles?: Readonly<Record<string, string>>;
};

/** Every setting once, by its variable name, with the first section that declares it. */
export const variables: ReadonlyMap<string, { setting: Setting<unknown>; section: string }> = (() => {
  const table = new Map<string, { setting: Setting<unknown>; section: string }>();
  for (const s of sections) {
    for (const [name, setting] of Object.entries(s.settings as Settings)) {
      const known = table.get(name);
      if (known && known.setting !== setting) throw new Error(`setting ${name} is declared twice`);
      if (!known) table.set(name, { setting, section: s.name });
    }
  }
  return table;
})();

export const variableNames: readonly string[] = [...variables.keys()];

/** Former names of settings → their current name. */
export const deprecatedNames: ReadonlyMap<string, string> = new Map(
  [...variables].flatMap(([name, { setting }]) => (setting.deprecatedNames ?? []).map((old) => [old, name])),
);
