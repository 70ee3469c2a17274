import { readFile } from 'node:fs/promises';
import { metricsIn, type Counter, type Registry } from '../observability/index.js';
import { secretFileText, variables } from './config/index.js';
import type { ModuleContext } from './module.js';

/** What became of a changed secret file: its value applied, or kept as it was (the file unreadable or invalid). */
export type SecretReloadOutcome = 'applied' | 'invalid' | 'unreadable' | 'failed';

export interface SecretFileWatcher {
  /** Reads every file once now (the timer does the same every `pollMs`). */
  poll(): Promise<void>;
  stop(): void;
}

/**
 * Watches secret files by reading them every `pollMs`. A Kubernetes Secret volume is updated by the kubelet
 * swapping a `..data` symlink to a new directory, which replaces the file a watch on it was set on; reading the
 * path anew each time sees every update, however it was made. A changed value that its setting does not accept
 * is reported once and not applied; an unreadable file (mid-update, removed) is reported once per streak. `apply`
 * failing (the store down) is reported and retried at the next poll.
 */
export function watchSecretFiles(options: {
  /** Setting name → path. */
  readonly files: Readonly<Record<string, string>>;
  /** Setting name → the value in use now (what the process started with). */
  readonly initial: Readonly<Record<string, string | undefined>>;
  readonly pollMs: number;
  apply(name: string, value: string): Promise<void> | void;
  report(name: string, outcome: SecretReloadOutcome, err?: unknown): void;
}): SecretFileWatcher {
  const last = new Map(Object.keys(options.files).map((name) => [name, options.initial[name]]));
  const troubled = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> | undefined;

  const once = (name: string, outcome: SecretReloadOutcome, key: string, err?: unknown) => {
    if (troubled.get(name) === key) return;
    troubled.set(name, key);
    options.report(name, outcome, err);
  };
  const check = async (name: string, path: string) => {
    let text: string;
    try {
      text = secretFileText(await readFile(path, 'utf8'));
    } catch (err) {
      return once(name, 'unreadable', 'unreadable', err);
    }
    if (text === last.get(name)) return void troubled.delete(name);
    if (!variables.get(name)?.setting.schema.safeParse(text).success) {
      return once(name, 'invalid', `invalid:${text}`);
    }
    try {
      await options.apply(name, text);
    } catch (err) {
      return options.report(name, 'failed', err);
    }
    last.set(name, text);
    troubled.delete(name);
    options.report(name, 'applied');
  };
  const poll = async () => {
    for (const [name, path] of Object.entries(options.files)) await check(name, path);
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = poll().finally(schedule);
    }, options.pollMs);
    timer.unref();
  };
  schedule();
  return {
    poll: () => (running = (running ?? Promise.resolve()).then(poll)),
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

const reloadCounters = new WeakMap<Registry, Counter<'secret' | 'outcome'>>();

/** `voxgate_secret_reloads_total`, once per registry (the gateway and the API may share one process). */
function reloadCounter(registry: Registry): Counter<'secret' | 'outcome'> {
  let counter = reloadCounters.get(registry);
  if (!counter) {
    counter = metricsIn(registry).counter(
      'voxgate_secret_reloads_total',
      'Changes of secret files (<NAME>_FILE) seen, by setting and outcome: applied; invalid, unreadable or ' +
        'failed (the previous value kept). Never the value.',
      { labelNames: ['secret', 'outcome'] },
    );
    reloadCounters.set(registry, counter);
  }
  return counter;
}

/**
 * Watches the files of those of `initial`'s settings that were given as `<NAME>_FILE`, logging and counting
 * each change (never the value); undefined when none was. `apply` takes a changed, valid value.
 */
export function watchModuleSecrets(
  ctx: ModuleContext,
  initial: Readonly<Record<string, string | undefined>>,
  apply: (name: string, value: string) => Promise<void> | void,
): SecretFileWatcher | undefined {
  const given = ctx.config.secretFiles ?? {};
  const files = Object.fromEntries(Object.keys(initial).flatMap((n) => (given[n] ? [[n, given[n]]] : [])));
  if (Object.keys(files).length === 0) return undefined;
  const counter = reloadCounter(ctx.metrics);
  return watchSecretFiles({
    files,
    initial,
    pollMs: ctx.config.secrets.pollMs,
    apply,
    report(name, outcome, err) {
      counter.inc({ secret: name, outcome });
      const detail = { secret: name, file: files[name], outcome };
      if (outcome === 'applied') ctx.logger.info(detail, 'secret reloaded from its file');
      else if (outcome === 'invalid') {
        ctx.logger.warn(
          detail,
          'secret file holds a value its setting does not accept; the previous value is kept',
        );
      } else ctx.logger.warn({ ...detail, err }, 'secret file not applied; the previous value is kept');
    },
  });
}
