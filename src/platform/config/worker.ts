import { integer, optional, s3Url } from './kinds.js';
import { objectStorageSettings, s3Access } from './object-storage.js';
import { section } from './setting.js';

/** The `worker` module: retention, database backups and their restore tests. */
export const workerSection = section({
  name: 'worker',
  settings: {
    VOXGATE_BACKUP_URL: optional(
      s3Url({
        description:
          'where the worker stores database backups (pg_dump); unset = the folder VOXGATE_DATA_DIR/backups',
      }),
    ),
    VOXGATE_BACKUP_INTERVAL_HOURS: integer({
      min: 0,
      max: 596,
      unit: 'hours',
      zero: 'off',
      description:
        'how often the worker backs up PostgreSQL (not PGlite: back up VOXGATE_DATA_DIR); 0 = never',
      default: 24,
    }),
    VOXGATE_RESTORE_TEST_INTERVAL_DAYS: integer({
      min: 0,
      max: 24,
      unit: 'days',
      zero: 'off',
      description:
        'how often the worker restores the latest backup into a scratch database and checks it; 0 = never',
      default: 7,
    }),
    VOXGATE_AUDIT_RETENTION_DAYS: integer({
      min: 1,
      max: 3650,
      unit: 'days',
      description: 'how long the audit log is kept before the worker purges it',
      default: 365,
    }),
    VOXGATE_CDR_RETENTION_DAYS: integer({
      min: 1,
      max: 3650,
      unit: 'days',
      description: 'how long CDRs are kept before the worker purges them',
      default: 730,
    }),
    VOXGATE_RECORDING_RETENTION_DAYS: integer({
      min: 0,
      max: 3650,
      unit: 'days',
      zero: 'off',
      description:
        'how long call recordings are kept (files in the recordings store and their rows) before the worker ' +
        'deletes them; 0 = kept until deleted through the API',
      default: 90,
    }),
    ...objectStorageSettings,
  },
  build: (v) => ({
    backups: {
      /** S3 destination; unset = a folder under the data directory. */
      s3: v.VOXGATE_BACKUP_URL ? { url: v.VOXGATE_BACKUP_URL, ...s3Access(v) } : undefined,
      intervalMs: v.VOXGATE_BACKUP_INTERVAL_HOURS * 3_600_000,
      restoreTestIntervalMs: v.VOXGATE_RESTORE_TEST_INTERVAL_DAYS * 86_400_000,
    },
    auditRetentionDays: v.VOXGATE_AUDIT_RETENTION_DAYS,
    cdrRetentionDays: v.VOXGATE_CDR_RETENTION_DAYS,
    recordingRetentionDays: v.VOXGATE_RECORDING_RETENTION_DAYS,
  }),
});
