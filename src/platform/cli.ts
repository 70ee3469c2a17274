import { parseArgs } from 'node:util';
import {
  ConfigError,
  formatEffectiveConfig,
  loadConfig,
  readEnvFile,
  settingsHelp,
  type Config,
} from './config/index.js';
import { resetAdminKey } from './admin-key.js';
import { runCtl } from './ctl/ctl.js';
import { runObjectBackupCommand } from './object-backup-command.js';
import { openMigratedStore, type OpenedStore } from './open-store.js';
import { startPlatform, type Platform } from './platform.js';
import { checkSipWorkers, sipWorkerCount, sipWorkerPlace, superviseSipWorkers } from './sip-workers.js';
import { parseTargets, TARGETS, targetModules } from './targets.js';
import { VERSION } from './version.js';

/** Exit code for a configuration error (sysexits EX_CONFIG). */
export const EXIT_CONFIG = 78;

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Aborted on SIGINT/SIGTERM before a platform runs: stops a one-shot command that follows (`ctl tail`). */
  signal?: AbortSignal;
}

export type CliOutcome = { exitCode: number } | { platform: Platform };

function helpText(): string {
  const targets = TARGETS.map((t) => `  ${t.padEnd(12)}  ${targetModules[t].join(', ')}`);
  return [
    `voxgate ${VERSION} — SIP gateway, media relay, provisioning API and jobs in one binary`,
    '',
    'Usage:',
    '  voxgate [--target=<list>] [--env-file=<path>]   run the platform (targets as a comma list)',
    '  voxgate config print [--env-file=<path>]       show the effective configuration, secrets masked',
    '  voxgate admin reset-key [--env-file=<path>]    new platform admin API key on stdout (shown once);',
    '                                                 revokes the earlier admin keys. Same store settings',
    '                                                 as the server; stop an embedded (PGlite) server first',
    '  voxgate ctl <command> [--json]                 operate a running voxgate over its API: tenants,',
    '                                                 registrations, calls, cdrs, trunks, tail',
    "                                                 (VOXGATE_API_URL, VOXGATE_API_KEY); 'voxgate ctl --help'",
    "  voxgate object-backup list|restore [options]   the object-store backup's runs; copy a run back into",
    "                                                 the stores; 'voxgate object-backup --help'",
    '  voxgate --help | --version',
    '',
    'Targets (each also starts the modules it depends on: http-server, store, shared-state, ...):',
    ...targets,
    '',
    'Options:',
    '  --target=<list>     targets to run, default "all" (also VOXGATE_TARGET)',
    '  --env-file=<path>   read VOXGATE_* settings from a file, e.g. config/environments/dev.env;',
    '                      variables already in the environment take precedence',
    '',
    'Settings (environment variables, by module; a secret may be given as <NAME>_FILE, a file holding it):',
    ...settingsHelp(),
    '',
    'Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT drain), 78 for a configuration error, 1 otherwise.',
  ].join('\n');
}

/**
 * `voxgate admin reset-key`: the new key alone on stdout (for `KEY=$(voxgate admin reset-key)`), what was
 * done on stderr. A store that cannot be opened is one line and exit 1.
 */
async function adminResetKey(config: Config, io: CliIo): Promise<number> {
  let opened: OpenedStore;
  try {
    opened = await openMigratedStore(config);
  } catch (err) {
    io.err(
      `voxgate: admin reset-key: cannot open the store: ${err instanceof Error ? err.message : String(err)}`,
    );
    return 1;
  }
  try {
    const { id, token, revoked } = await resetAdminKey(opened.db);
    io.out(token);
    io.err(`voxgate: new platform admin API key ${id} (on stdout): shown this once, only its hash is stored`);
    io.err(
      revoked.length === 0
        ? 'voxgate: there was no earlier platform admin key to revoke'
        : revoked.length === 1
          ? `voxgate: revoked the earlier platform admin key ${revoked.join('')}: it no longer works`
          : `voxgate: revoked the earlier platform admin keys ${revoked.join(', ')}: they no longer work`,
    );
    return 0;
  } finally {
    await opened.db.close();
  }
}

/**
 * Runs the command line. Returns an exit code for one-shot commands, or the started platform.
 * Configuration problems come back as one line on `err` and EXIT_CONFIG.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<CliOutcome> {
  // `ctl` has options of its own and reads no settings: the API's URL and key are all it needs.
  if (argv[0] === 'ctl') return { exitCode: await runCtl(argv.slice(1), io) };
  try {
    if (argv[0] === 'object-backup') return { exitCode: await runObjectBackupCommand(argv.slice(1), io) };
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        target: { type: 'string' },
        'env-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
    if (values.help) return (io.out(helpText()), { exitCode: 0 });
    if (values.version) return (io.out(VERSION), { exitCode: 0 });

    const fileEnv = values['env-file'] ? await readEnvFile(values['env-file']) : {};
    const env = { ...fileEnv, ...io.env };
    const command = positionals.join(' ');
    if (command === 'config print') {
      loadConfig(env, { onDeprecated: (message) => io.err(`voxgate: warning: ${message}`) });
      io.out(formatEffectiveConfig(env));
      return { exitCode: 0 };
    }
    if (command === 'admin reset-key') {
      const config = loadConfig(env, { onDeprecated: (message) => io.err(`voxgate: warning: ${message}`) });
      return { exitCode: await adminResetKey(config, io) };
    }
    if (command !== '') {
      throw new ConfigError('CONFIG_INVALID_TARGET', `unknown command '${command}'; run 'voxgate --help'`);
    }
    const targets = parseTargets(values.target ?? env.VOXGATE_TARGET ?? 'all');
    const deprecations: string[] = [];
    const config = loadConfig(env, { onDeprecated: (message) => deprecations.push(message) });
    const workers = sipWorkerCount(config.sip.workers);
    if (workers > 1 && !sipWorkerPlace(env)) {
      checkSipWorkers(config, targets, workers);
      return { platform: await superviseSipWorkers({ config, workers, env }) };
    }
    const platform = await startPlatform({ config, targets });
    for (const message of deprecations) platform.logger.warn(message);
    return { platform };
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`voxgate: configuration error: ${err.message}`);
      return { exitCode: EXIT_CONFIG };
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      io.err(`voxgate: ${err.message}; run 'voxgate --help'`);
      return { exitCode: EXIT_CONFIG };
    }
    throw err;
  }
}
