import { integer, optional, s3Url, text, url } from './kinds.js';
import { objectStorageSettings, s3Access } from './object-storage.js';
import { section } from './setting.js';

/** The `worker` module: retention, database backups and their restore tests, object-store backups. */
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
    VOXGATE_OBJECT_BACKUP_URL: optional(
      s3Url({
        description:
          'where the worker copies the object stores (recordings, database backups) each run, incrementally, ' +
          'with a manifest per run; a bucket or prefix of its own (another region or account), never inside ' +
          'VOXGATE_RECORDINGS_URL or VOXGATE_BACKUP_URL; unset = the folder VOXGATE_DATA_DIR/object-backups',
      }),
    ),
    VOXGATE_OBJECT_BACKUP_S3_ENDPOINT: optional(
      url(['http', 'https'], {
        description: 'an S3-compatible endpoint for VOXGATE_OBJECT_BACKUP_URL; unset = VOXGATE_S3_ENDPOINT',
      }),
    ),
    VOXGATE_OBJECT_BACKUP_S3_REGION: optional(
      text({
        type: 'text',
        expects: 'a region name such as eu-west-1',
        pattern: /^[a-z0-9-]+$/,
        description: 'the region of VOXGATE_OBJECT_BACKUP_URL; unset = VOXGATE_S3_REGION',
      }),
    ),
    VOXGATE_OBJECT_BACKUP_INTERVAL_HOURS: integer({
      min: 0,
      max: 596,
      unit: 'hours',
      zero: 'off',
      description:
        'how often the worker copies new and changed objects of the recordings and backups stores to ' +
        'VOXGATE_OBJECT_BACKUP_URL; 0 = never',
      default: 24,
    }),
    VOXGATE_OBJECT_BACKUP_RETENTION_DAYS: integer({
      min: 0,
      max: 3650,
      unit: 'days',
      zero: 'kept forever',
      description:
        "how long the object backup keeps a run's manifest, and so the copies of objects its sources have " +
        'since deleted or changed; 0 = kept forever',
      default: 35,
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
    objectBackups: {
      /** S3 destination; unset = a folder under the data directory. */
      s3: v.VOXGATE_OBJECT_BACKUP_URL
        ? {
            url: v.VOXGATE_OBJECT_BACKUP_URL,
            ...s3Access({
              ...v,
              VOXGATE_S3_ENDPOINT: v.VOXGATE_OBJECT_BACKUP_S3_ENDPOINT ?? v.VOXGATE_S3_ENDPOINT,
              VOXGATE_S3_REGION: v.VOXGATE_OBJECT_BACKUP_S3_REGION ?? v.VOXGATE_S3_REGION,
            }),
          }
        : undefined,
      intervalMs: v.VOXGATE_OBJECT_BACKUP_INTERVAL_HOURS * 3_600_000,
      retentionDays: v.VOXGATE_OBJECT_BACKUP_RETENTION_DAYS,
    },
    auditRetentionDays: v.VOXGATE_AUDIT_RETENTION_DAYS,
    cdrRetentionDays: v.VOXGATE_CDR_RETENTION_DAYS,
    recordingRetentionDays: v.VOXGATE_RECORDING_RETENTION_DAYS,
  }),
});
