import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  chooseManifest,
  listObjectBackups,
  restoreObjectBackup,
  stampTime,
  type ManifestHeader,
} from '../jobs/index.js';
import { createFolderStore, createS3Store, type ObjectStore } from '../store/index.js';
import { ConfigError, loadConfig, readEnvFile } from './config/index.js';
import { openObjectBackupStore, openRecordingStore } from './recording-store.js';

const USAGE = [
  'Usage:',
  '  voxgate object-backup list [--json] [--env-file=<path>]',
  '      the runs of the object-store backup: when, what the sources held, what each run copied',
  '  voxgate object-backup restore [--at=<when>] [--source=<name>] [--prefix=<key prefix>] [--to=<folder>]',
  '                                [--overwrite] [--json] [--env-file=<path>]',
  '      copies what the sources held at the newest run at or before --at (YYYY-MM-DD = the end of that',
  '      day UTC, an ISO time, or a run stamp; default the newest run) back into the stores they came',
  '      from (VOXGATE_RECORDINGS_URL, VOXGATE_BACKUP_URL, or their folders), or into <folder>/<source>/',
  '      with --to. Sources: recordings, database-backups. Objects the target holds with the same size are',
  '      left alone unless --overwrite; nothing is deleted. Same settings as the worker.',
].join('\n');

/** `--at`: a day (its end, UTC), an ISO time, or a run stamp. */
function parseAt(value: string): Date {
  const stamp = stampTime(value);
  if (stamp !== undefined) return new Date(stamp);
  const time = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T23:59:59.999Z`) : Date.parse(value);
  if (Number.isNaN(time))
    throw new ConfigError('CONFIG_INVALID_VALUE', `--at=${value}: not a day, time or run stamp`);
  return new Date(time);
}

const describe = (h: ManifestHeader): string => {
  const held = Object.entries(h.sources)
    .map(([name, s]) => `${name} ${s.objects} objects ${s.bytes} bytes`)
    .join(', ');
  return `${h.stamp}  ${held}; copied ${h.copied.objects} objects ${h.copied.bytes} bytes`;
};

/**
 * `voxgate object-backup list|restore`: reads the worker's settings (the backup's and the sources' stores)
 * like `voxgate admin reset-key`, and works on the stores directly, with no running voxgate.
 */
export async function runObjectBackupCommand(
  argv: readonly string[],
  io: { env: Record<string, string | undefined>; out: (line: string) => void; err: (line: string) => void },
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      at: { type: 'string' },
      source: { type: 'string' },
      prefix: { type: 'string' },
      to: { type: 'string' },
      overwrite: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      'env-file': { type: 'string' },
    },
  });
  const command = positionals.join(' ');
  if (values.help || (command !== 'list' && command !== 'restore')) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? 0 : 78;
  }
  const fileEnv = values['env-file'] ? await readEnvFile(values['env-file']) : {};
  const config = loadConfig({ ...fileEnv, ...io.env });
  const backup = openObjectBackupStore(config);
  const opened: ObjectStore[] = [backup];
  try {
    return await run();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    io.err(`voxgate: object-backup ${command}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    for (const store of opened) store.close();
  }

  async function run(): Promise<number> {
    if (command === 'list') {
      const runs = await listObjectBackups(backup);
      if (values.json) io.out(JSON.stringify(runs, null, 2));
      else if (runs.length === 0) io.err('voxgate: the object backup holds no run yet');
      else for (const run of runs) io.out(describe(run));
      return 0;
    }
    const sources: Record<string, () => ObjectStore> = values.to
      ? {
          recordings: () => createFolderStore(join(values.to!, 'recordings')),
          'database-backups': () => createFolderStore(join(values.to!, 'database-backups')),
        }
      : {
          recordings: () => openRecordingStore(config),
          'database-backups': () =>
            config.backups.s3
              ? createS3Store(config.backups.s3)
              : createFolderStore(join(config.dataDir, 'backups')),
        };
    const names = values.source ? [values.source] : Object.keys(sources);
    const targets: Record<string, ObjectStore> = {};
    for (const name of names) {
      const make = sources[name];
      if (!make)
        throw new ConfigError(
          'CONFIG_INVALID_VALUE',
          `--source=${name}: one of ${Object.keys(sources).join(', ')}`,
        );
      targets[name] = make();
      opened.push(targets[name]);
    }
    const stamp = await chooseManifest(backup, values.at ? parseAt(values.at) : undefined);
    const result = await restoreObjectBackup({
      backup,
      targets,
      stamp,
      ...(values.prefix ? { prefix: values.prefix } : {}),
      overwrite: values.overwrite ?? false,
      spoolDir: join(config.dataDir, 'object-backups-restore.spool'),
    });
    if (values.json) io.out(JSON.stringify(result, null, 2));
    else
      io.out(
        `restored ${result.restored.objects} objects (${result.restored.bytes} bytes) of run ${stamp}` +
          ` into ${names.join(', ')}${values.to ? ` under ${values.to}` : ''}; ${result.present} already there`,
      );
    return 0;
  }
}
